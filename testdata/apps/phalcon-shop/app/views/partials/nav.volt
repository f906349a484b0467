{# Rendered at run time by partial('partials/nav') from the layout. #}
<nav class="site-nav">
    <a class="brand" href="{{ url('') }}">
        <img src="{{ url('img/logo.svg') }}?v={{ asset_version('img/logo.svg') }}" alt="">
        <span class="brand-name">{{ config.app.name|upper|e }}</span>
    </a>
    <a href="{{ url('products') }}">Products</a>
    {% if session.has('auth') %}
        <a href="{{ url('products/new') }}">New product</a>
        <span class="account">{{ auth.getName()|default('Staff')|e }} &middot; {{ link_to('session/logout', 'Log out') }}</span>
    {% else %}
        <span class="account"><a href="{{ url('session/login') }}">Log in</a></span>
    {% endif %}
</nav>
