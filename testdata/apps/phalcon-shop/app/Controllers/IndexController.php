<?php

declare(strict_types=1);

namespace App\Controllers;

use App\Models\Products;

final class IndexController extends ControllerBase
{
    /**
     * GET / — the three newest products and a greeting.
     */
    public function indexAction(): void
    {
        $this->view->setVar('latest', Products::find([
            'order' => 'created_at DESC, id DESC',
            'limit' => 3,
        ]));
    }
}
