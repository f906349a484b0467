<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{% block title %}{% endblock %} | {{ config.app.name|e }}</title>
    <link rel="icon" type="image/svg+xml" href="{{ url('img/logo.svg') }}?v={{ asset_version('img/logo.svg') }}">
    {{ assets.outputCss() }}
</head>
<body class="{{ dispatcher.getControllerName() }}-{{ dispatcher.getActionName() }}">
    {{ partial('partials/nav') }}
    {{ flash.output() }}
    {{ flashSession.output() }}
    <main data-page="{% block page %}{% endblock %}">
        {% block content %}{% endblock %}
    </main>
    {% include 'partials/footer.volt' %}
</body>
</html>
