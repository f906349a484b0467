{% extends 'layouts/base.volt' %}

{% block title %}Log in{% endblock %}

{% block page %}session-login{% endblock %}

{% block content %}
    <h1>Log in</h1>
    <form class="stacked" method="post" action="{{ url('session/login') }}">
        <input type="hidden" name="{{ security.getTokenKey() }}" value="{{ security.getToken() }}">
        {{ form.render('csrf', ['value': security.getToken()]) }}

        {{ form.label('email') }}
        {{ form.render('email') }}

        {{ form.label('password') }}
        {{ form.render('password') }}

        <button type="submit">Log in</button>
    </form>
{% endblock %}
