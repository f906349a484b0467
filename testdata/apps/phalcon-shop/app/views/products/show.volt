{% extends 'layouts/base.volt' %}

{% block title %}{{ product.name|e }}{% endblock %}

{% block page %}products-show{% endblock %}

{% block content %}
    {% include 'partials/macros.volt' %}

    <h1>{{ product.name|e }}</h1>
    <dl class="product">
        <dt>Price</dt>
        <dd>{{ price(product.price) }}</dd>
        <dt>Added</dt>
        <dd>{{ product.created_at|default('unknown')|e }}</dd>
    </dl>
    <p><a href="{{ url('products') }}">Back to all products</a></p>
{% endblock %}
