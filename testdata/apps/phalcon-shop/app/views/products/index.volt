{% extends 'layouts/base.volt' %}

{% block title %}Products{% endblock %}

{% block page %}products-index{% endblock %}

{% block content %}
    {% include 'partials/macros.volt' %}
    {% set total = products|length %}

    <h1>Products</h1>
    <p class="count">
    {% if total == 0 %}
        The catalogue is empty.
    {% elseif total == 1 %}
        One product.
    {% else %}
        {{ total }} products.
    {% endif %}
    </p>

    <table class="products">
        <thead>
            <tr><th>#</th><th>Name</th><th>Price</th></tr>
        </thead>
        <tbody>
        {% for product in products %}
            <tr>
                <td>{{ loop.index }}</td>
                <td>{{ product_link(product) }}</td>
                <td>{{ price(product.price) }}</td>
            </tr>
        {% else %}
            <tr><td colspan="3" class="empty">No products yet.</td></tr>
        {% endfor %}
        </tbody>
    </table>

    {% if auth.isLoggedIn() %}
    <p><a href="{{ url('products/new') }}">New product</a></p>
    {% endif %}
{% endblock %}
