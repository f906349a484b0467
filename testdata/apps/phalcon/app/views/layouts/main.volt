<!doctype html>
<html>
<head><title>{% block title %}Phalcon app{% endblock %}</title></head>
<body>
{{ partial('partials/header') }}
{% block content %}{% endblock %}
</body>
</html>
