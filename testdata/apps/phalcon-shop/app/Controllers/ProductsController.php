<?php

declare(strict_types=1);

namespace App\Controllers;

use App\Forms\ProductForm;
use App\Models\Products;
use Phalcon\Http\ResponseInterface;

final class ProductsController extends ControllerBase
{
    /**
     * GET /products
     */
    public function indexAction(): void
    {
        $this->view->setVar('products', Products::find(['order' => 'name ASC']));
    }

    /**
     * GET /products/{id}
     */
    public function showAction(): void
    {
        $product = Products::findFirst([
            'conditions' => 'id = :id:',
            'bind'       => ['id' => $this->dispatcher->getParam('id', 'int')],
        ]);

        if (!$product instanceof Products) {
            $this->notFound();

            return;
        }

        $this->view->setVar('product', $product);
    }

    /**
     * GET /products/new (signed-in users only, see SecurityPlugin)
     */
    public function newAction(): void
    {
        $this->view->setVar('form', new ProductForm());
    }

    /**
     * POST /products/new
     */
    public function createAction(): ?ResponseInterface
    {
        $form = new ProductForm();
        $product = new Products();

        if (!$this->security->checkToken()) {
            $this->flash->error('The form expired, please send it again');
        } elseif (!$form->isValid($this->request->getPost(), $product, ['name', 'price'])) {
            $this->flashErrors($form->getMessages());
        } elseif (!$product->save()) {
            $this->flashErrors($product->getMessages());
        } else {
            $this->flashSession->success(sprintf('Product "%s" was created', $product->name));

            return $this->response->redirect('products/' . $product->id);
        }

        $this->view->setVar('form', $form);
        $this->view->pick('products/new');

        return null;
    }
}
