<?php

declare(strict_types=1);

namespace App\Providers;

use InvalidArgumentException;
use Phalcon\Db\Adapter\Pdo\Mysql;
use Phalcon\Di\DiInterface;
use Phalcon\Di\ServiceProviderInterface;

/**
 * "db": the MySQL connection. The service is resolved, and so connects, only
 * when a model or a task first needs it: /health never touches the database.
 */
final class DbProvider implements ServiceProviderInterface
{
    public function register(DiInterface $di): void
    {
        $di->setShared('db', function (): Mysql {
            $database = $this->getShared('config')->database;

            if (strcasecmp((string) $database->adapter, 'Mysql') !== 0) {
                throw new InvalidArgumentException(sprintf(
                    'Unsupported database adapter "%s": this application runs on MySQL.',
                    $database->adapter,
                ));
            }

            return new Mysql([
                'host'     => $database->host,
                'port'     => $database->port,
                'username' => $database->username,
                'password' => $database->password,
                'dbname'   => $database->dbname,
                'charset'  => $database->charset,
            ]);
        });
    }
}
