{# Compiled into the layout at compile time (an include of a literal path). #}
<footer class="site-footer" data-sig="{{ strrev('pohs-noclahp') }}">
    <p>&copy; {{ date('Y') }} {{ config.app.name|e }}</p>
</footer>
