{% extends 'layouts/base.volt' %}

{% block title %}Not found{% endblock %}

{% block page %}errors-show404{% endblock %}

{% block content %}
    <h1>Page not found</h1>
    <p>Nothing lives at <code>{{ request.getURI(true)|e }}</code>.</p>
    <p><a href="{{ url('') }}">Back to the shop</a></p>
{% endblock %}
