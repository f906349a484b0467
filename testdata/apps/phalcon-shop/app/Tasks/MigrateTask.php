<?php

declare(strict_types=1);

namespace App\Tasks;

use Phalcon\Cli\Task;
use Phalcon\Db\Adapter\Pdo\AbstractPdo;

/**
 * php app/cli.php migrate — creates the tables that are missing and seeds
 * empty ones. Safe to run on every release. db/schema.sql holds the same DDL.
 *
 * @property AbstractPdo $db
 */
final class MigrateTask extends Task
{
    private const TABLES = [
        'users' => <<<'SQL'
            CREATE TABLE IF NOT EXISTS `users` (
                `id`            INT UNSIGNED NOT NULL AUTO_INCREMENT,
                `name`          VARCHAR(100) NOT NULL,
                `email`         VARCHAR(190) NOT NULL,
                `password_hash` VARCHAR(255) NOT NULL,
                `created_at`    DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (`id`),
                UNIQUE KEY `users_email` (`email`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            SQL,
        'products' => <<<'SQL'
            CREATE TABLE IF NOT EXISTS `products` (
                `id`         INT UNSIGNED   NOT NULL AUTO_INCREMENT,
                `name`       VARCHAR(120)   NOT NULL,
                `price`      DECIMAL(10, 2) NOT NULL,
                `created_at` DATETIME       NOT NULL DEFAULT CURRENT_TIMESTAMP,
                PRIMARY KEY (`id`),
                KEY `products_created_at` (`created_at`)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
            SQL,
    ];

    /** Oldest first, so the espresso machine is the newest product. */
    private const PRODUCTS = [
        ['name' => 'Espresso beans, 1 kg', 'price' => '24.90'],
        ['name' => 'Ceramic mug', 'price' => '12.50'],
        ['name' => 'Espresso machine', 'price' => '1249.00'],
    ];

    public function mainAction(): void
    {
        $db = $this->db;

        foreach (self::TABLES as $table => $ddl) {
            if ($db->tableExists($table)) {
                echo "table {$table}: exists", PHP_EOL;
                continue;
            }
            $db->execute($ddl);
            echo "table {$table}: created", PHP_EOL;
        }

        $db->begin();
        try {
            $this->seedUsers($db);
            $this->seedProducts($db);
            $db->commit();
        } catch (\Throwable $e) {
            $db->rollback();
            throw $e;
        }
    }

    private function seedUsers(AbstractPdo $db): void
    {
        if ($this->count($db, 'users') > 0) {
            echo 'users: already seeded', PHP_EOL;

            return;
        }

        $db->insertAsDict('users', [
            'name'          => 'Demo User',
            'email'         => 'demo@example.com',
            'password_hash' => password_hash('demo-password', PASSWORD_DEFAULT),
            'created_at'    => date('Y-m-d H:i:s'),
        ]);
        echo 'users: seeded demo@example.com', PHP_EOL;
    }

    private function seedProducts(AbstractPdo $db): void
    {
        if ($this->count($db, 'products') > 0) {
            echo 'products: already seeded', PHP_EOL;

            return;
        }

        $now = time();
        $count = count(self::PRODUCTS);
        foreach (self::PRODUCTS as $i => $product) {
            $db->insertAsDict('products', $product + [
                // A minute apart, so "newest first" has one answer.
                'created_at' => date('Y-m-d H:i:s', $now - ($count - $i) * 60),
            ]);
        }
        echo "products: seeded {$count}", PHP_EOL;
    }

    private function count(AbstractPdo $db, string $table): int
    {
        return (int) $db->fetchColumn(sprintf('SELECT COUNT(*) FROM %s', $db->escapeIdentifier($table)));
    }
}
