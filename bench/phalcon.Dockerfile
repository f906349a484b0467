# The reference for the serving half of `make bench` on a Phalcon app: the
# Dockerfile a careful team writes for testdata/apps/phalcon-shop, on the
# same Debian base and PHP packages as phpbuild's PHP 8.2 runtime.
# Phalcon is the one extension Debian does not package; compiling it takes
# 15 to 30 minutes, so this file copies the phalcon.so that phpbuild's
# runtime compiled from the same source (PHALCON_FROM, its run image): the
# two images then differ in how they are configured and laid out, not in
# the extension's build. Volt compiles its templates at run time, into
# cache/volt/, as the app's ViewProvider asks.
ARG BASE=debian:bookworm-slim
ARG PHALCON_FROM

FROM ${PHALCON_FROM} AS phalcon

FROM ${BASE} AS php
ARG PHP=8.2
RUN rm -f /etc/apt/apt.conf.d/docker-clean \
 && echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >/etc/apt/apt.conf.d/keep-cache
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates nginx \
      php${PHP}-cli php${PHP}-fpm php${PHP}-bcmath php${PHP}-curl php${PHP}-gd php${PHP}-intl \
      php${PHP}-mbstring php${PHP}-opcache php${PHP}-mysql php${PHP}-xml php${PHP}-zip php-redis \
 && ln -s /usr/sbin/php-fpm${PHP} /usr/local/sbin/php-fpm \
 && sed -i -e 's|^listen = .*|listen = /run/php/php-fpm.sock|' \
           -e 's|^;clear_env = no|clear_env = no|' /etc/php/${PHP}/fpm/pool.d/www.conf \
 && rm -f /etc/nginx/sites-enabled/default
COPY --from=phalcon /usr/local/lib/phpbuild/ext/phalcon.so /tmp/phalcon.so
RUN mv /tmp/phalcon.so "$(php -r 'echo ini_get("extension_dir");')/" \
 && printf '; priority=30\nextension=phalcon.so\n' >/etc/php/${PHP}/mods-available/phalcon.ini \
 && phpenmod phalcon && php -m | grep -qx phalcon

FROM php AS composer
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends composer unzip git
WORKDIR /app
COPY composer.json composer.lock ./
COPY packages/ packages/
RUN --mount=type=cache,target=/root/.cache/composer \
    composer install --no-dev --no-scripts --no-autoloader --no-interaction --no-progress
COPY . .
RUN composer dump-autoload --no-dev --optimize --classmap-authoritative --no-interaction

FROM php
COPY <<'EOF' /etc/nginx/conf.d/app.conf
server {
    listen 8080 default_server;
    root /var/www/app/public;
    server_tokens off;
    location ~ /\. { return 404; }
    location / { try_files $uri /index.php$is_args$args; }
    location ~ ^/index\.php(/|$) {
        fastcgi_pass unix:/run/php/php-fpm.sock;
        include fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $realpath_root$fastcgi_script_name;
        internal;
    }
    location ~ \.php$ { return 404; }
}
EOF
COPY --chmod=0755 <<'EOF' /usr/local/bin/start
#!/bin/sh
set -e
mkdir -p /run/php
php-fpm --daemonize
exec nginx -g 'daemon off;'
EOF
WORKDIR /var/www/app
COPY --link --from=composer /app/vendor vendor/
COPY --link . .
# Volt writes its compiled templates here at run time.
RUN mkdir -p cache/volt && chown -R www-data:www-data cache
STOPSIGNAL SIGQUIT
EXPOSE 8080
CMD ["/usr/local/bin/start"]
