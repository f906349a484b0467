<?php

declare(strict_types=1);

namespace App\Plugins;

use Phalcon\Acl\Adapter\Memory as AclList;
use Phalcon\Acl\Component;
use Phalcon\Acl\Enum;
use Phalcon\Acl\Role;
use Phalcon\Di\Injectable;
use Phalcon\Events\Event;
use Phalcon\Mvc\Dispatcher;

/**
 * Runs before every action: guests see the public pages, signed-in users
 * may also add products. Anything else ends on the 401 page.
 *
 * @property \App\Library\Auth $auth
 */
final class SecurityPlugin extends Injectable
{
    /** Pages anyone may see: controller => actions. */
    private const PUBLIC_COMPONENTS = [
        'index'    => ['index'],
        'session'  => ['login', 'logout'],
        'products' => ['index', 'show'],
        'errors'   => ['show401', 'show404'],
        'health'   => ['index'],
    ];

    /** Pages for signed-in users only. */
    private const PRIVATE_COMPONENTS = [
        'products' => ['new', 'create'],
    ];

    private ?AclList $acl = null;

    public function beforeExecuteRoute(Event $event, Dispatcher $dispatcher): bool
    {
        $controller = $dispatcher->getControllerName();
        $action = $dispatcher->getActionName();
        $acl = $this->getAcl();

        if (!$acl->isComponent($controller)) {
            $dispatcher->forward(['controller' => 'errors', 'action' => 'show404']);

            return false;
        }

        // Public pages are decided without the session, so /health and the
        // other public pages never need to start one for the ACL.
        if ($acl->isAllowed('Guests', $controller, $action)) {
            return true;
        }

        $role = $this->auth->isLoggedIn() ? 'Users' : 'Guests';
        if ($acl->isAllowed($role, $controller, $action)) {
            return true;
        }

        $dispatcher->forward(['controller' => 'errors', 'action' => 'show401']);

        return false;
    }

    private function getAcl(): AclList
    {
        if ($this->acl !== null) {
            return $this->acl;
        }

        $acl = new AclList();
        $acl->setDefaultAction(Enum::DENY);

        $acl->addRole(new Role('Guests', 'Anyone browsing the shop'));
        $acl->addRole(new Role('Users', 'Signed-in staff'), 'Guests');

        $components = array_merge_recursive(self::PUBLIC_COMPONENTS, self::PRIVATE_COMPONENTS);
        foreach ($components as $name => $actions) {
            $acl->addComponent(new Component($name), $actions);
        }

        foreach (self::PUBLIC_COMPONENTS as $name => $actions) {
            $acl->allow('Guests', $name, $actions);
        }
        foreach (self::PRIVATE_COMPONENTS as $name => $actions) {
            $acl->allow('Users', $name, $actions);
        }

        return $this->acl = $acl;
    }
}
