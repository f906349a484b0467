{% extends 'layouts/base.volt' %}

{% block title %}Home{% endblock %}

{% block page %}index-index{% endblock %}

{% block content %}
    {% include 'partials/macros.volt' %}

    {% if auth.isLoggedIn() %}
    <p class="who">Signed in as {{ auth.getName()|e }}</p>
    {% else %}
    <p class="guest">Welcome! <a href="{{ url('session/login') }}">Log in</a> to add products.</p>
    {% endif %}

    <h1>Latest products</h1>
    <ul class="latest">
    {% for product in latest %}
        <li>{{ product_link(product) }} {{ price(product.price) }}</li>
    {% else %}
        <li class="empty">No products yet.</li>
    {% endfor %}
    </ul>
    <p><a href="{{ url('products') }}">All products</a></p>
{% endblock %}
