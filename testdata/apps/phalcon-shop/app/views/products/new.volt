{% extends 'layouts/base.volt' %}

{% block title %}New product{% endblock %}

{% block page %}products-new{% endblock %}

{% block content %}
    <h1>New product</h1>
    <form class="stacked" method="post" action="{{ url('products/new') }}">
        <input type="hidden" name="{{ security.getTokenKey() }}" value="{{ security.getToken() }}">
        {{ form.render('csrf', ['value': security.getToken()]) }}

        {{ form.label('name') }}
        {{ form.render('name') }}

        {{ form.label('price') }}
        {{ form.render('price') }}

        <button type="submit">Save product</button>
    </form>
{% endblock %}
