<?php

declare(strict_types=1);

namespace App\Library;

use App\Models\Users;
use Phalcon\Di\Injectable;

/**
 * The signed-in user, kept in the session under "auth".
 *
 * Registered as the shared "auth" service; templates call auth.getName().
 *
 * @property \Phalcon\Session\ManagerInterface $session
 */
final class Auth extends Injectable
{
    private const SESSION_KEY = 'auth';

    public function isLoggedIn(): bool
    {
        return $this->session->has(self::SESSION_KEY);
    }

    public function getName(): ?string
    {
        return $this->identity()['name'] ?? null;
    }

    public function getId(): ?int
    {
        return $this->identity()['id'] ?? null;
    }

    /**
     * Signs the user in when the email and password match.
     */
    public function check(string $email, string $password): bool
    {
        $user = Users::findFirst([
            'conditions' => 'email = :email:',
            'bind'       => ['email' => mb_strtolower(trim($email))],
        ]);

        if (!$user instanceof Users || !password_verify($password, $user->password_hash)) {
            return false;
        }

        // A new session id on privilege change prevents session fixation.
        $this->session->regenerateId();
        $this->session->set(self::SESSION_KEY, [
            'id'   => (int) $user->id,
            'name' => $user->name,
        ]);

        return true;
    }

    public function logout(): void
    {
        $this->session->remove(self::SESSION_KEY);
        $this->session->regenerateId();
    }

    /**
     * @return array{id?: int, name?: string}
     */
    private function identity(): array
    {
        $identity = $this->session->get(self::SESSION_KEY);

        return is_array($identity) ? $identity : [];
    }
}
