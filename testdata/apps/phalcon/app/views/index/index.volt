{% extends 'layouts/main.volt' %}

{% block title %}Hello{% endblock %}

{% block content %}
<h1>{{ greeting|shout }}</h1>
<p>Phalcon {{ phalconVersion }}</p>
{% endblock %}
