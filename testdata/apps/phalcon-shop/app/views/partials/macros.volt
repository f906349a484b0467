{# Shared macros; pages that show prices include this file. #}
{% macro price(amount) %}<span class="price">{{ amount|money }} EUR</span>{% endmacro %}

{% macro product_link(product) %}<a href="{{ url('products/' ~ product.id) }}">{{ product.name|e }}</a>{% endmacro %}
