{% extends 'layouts/base.volt' %}

{% block title %}Please log in{% endblock %}

{% block page %}errors-show401{% endblock %}

{% block content %}
    <h1>Please log in</h1>
    <p>You need to be signed in to see this page.</p>
    <p><a href="{{ url('session/login') }}">Log in</a></p>
{% endblock %}
