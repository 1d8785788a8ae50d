"""Solver: trains a classification model with minibatch gradient descent."""
import pickle

import numpy as np

from . import optim, parallel


class Solver:
    """Trains a model on a dataset and tracks its loss and accuracies.

    The model must have
    - model.params: dict mapping parameter names to arrays
    - model.loss(X, y=None): returns the scores (N, C) when y is None, otherwise
      (loss, grads) with grads keyed like model.params.

    Usage:

        solver = Solver(model, data, update_rule='adam',
                        optim_config={'learning_rate': 1e-3},
                        num_epochs=10, batch_size=100)
        solver.train()

    data is a dict with 'X_train', 'y_train', 'X_val', 'y_val'. After train(),
    model.params holds the parameters that reached the best validation
    accuracy (also in solver.best_params) and solver.loss_history,
    solver.train_acc_history and solver.val_acc_history record the run.

    Optional keyword arguments:
    - update_rule: name of a rule in cs260.optim (default 'sgd')
    - optim_config: hyperparameters for the update rule (each parameter gets
      its own copy, which then also keeps that parameter's state)
    - lr_decay: the learning rate is multiplied by this after every epoch (1.0)
    - batch_size: minibatch size (100)
    - num_epochs: epochs to train (10)
    - num_train_samples: training examples used to measure the training
      accuracy after every epoch (1000); None means all
    - num_val_samples: validation examples used likewise (None: all)
    - checkpoint_name: when given, the solver pickles a checkpoint to
      '<checkpoint_name>_epoch_<epoch>.pkl' after every epoch
    - print_every: print the loss every this many iterations (10)
    - verbose: print progress at all (True)
    """

    def __init__(self, model, data, **kwargs):
        self.model = model
        self.X_train = data["X_train"]
        self.y_train = data["y_train"]
        self.X_val = data["X_val"]
        self.y_val = data["y_val"]

        self.update_rule = kwargs.pop("update_rule", "sgd")
        self.optim_config = kwargs.pop("optim_config", {})
        self.lr_decay = kwargs.pop("lr_decay", 1.0)
        self.batch_size = kwargs.pop("batch_size", 100)
        self.num_epochs = kwargs.pop("num_epochs", 10)
        self.num_train_samples = kwargs.pop("num_train_samples", 1000)
        self.num_val_samples = kwargs.pop("num_val_samples", None)
        self.checkpoint_name = kwargs.pop("checkpoint_name", None)
        self.print_every = kwargs.pop("print_every", 10)
        self.verbose = kwargs.pop("verbose", True)
        if kwargs:
            raise ValueError("Unrecognized arguments: " + ", ".join(sorted(kwargs)))

        if not hasattr(optim, self.update_rule):
            raise ValueError(f'Invalid update_rule "{self.update_rule}"')
        self.update_fn = getattr(optim, self.update_rule)

        self._reset()

    def _reset(self):
        """Set up the bookkeeping; called by __init__."""
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    def _step(self):
        """One gradient update on a random minibatch."""
        num_train = self.X_train.shape[0]
        batch = np.random.choice(num_train, self.batch_size)
        loss, grads = self.model.loss(self.X_train[batch], self.y_train[batch])
        self.loss_history.append(loss)

        for name, value in self.model.params.items():
            new_value, config = self.update_fn(value, grads[name], self.optim_configs[name])
            self.model.params[name] = new_value
            self.optim_configs[name] = config

    def _save_checkpoint(self):
        if self.checkpoint_name is None:
            return
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = f"{self.checkpoint_name}_epoch_{self.epoch}.pkl"
        if self.verbose:
            print(f'Saving checkpoint to "{filename}"')
        with open(filename, "wb") as f:
            pickle.dump(checkpoint, f)

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Fraction of examples the model classifies correctly.

        When num_samples is given and smaller than the data, a random subset of
        that size is used. Scores are computed batch_size examples at a time.
        """
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            subset = np.random.choice(N, num_samples)
            N = num_samples
            X, y = X[subset], y[subset]

        predictions = []
        for start in range(0, N, batch_size):
            scores = self.model.loss(X[start:start + batch_size])
            predictions.append(np.argmax(scores, axis=1))
        return np.mean(np.hstack(predictions) == y)

    def train(self):
        """Run the optimization for num_epochs epochs."""
        # The fast layers split each batch over the cores; beside them, the affine layers'
        # small matrix multiplies are a little faster on one BLAS thread (parallel.single_threaded_blas).
        with parallel.single_threaded_blas():
            self._train()

    def _train(self):
        """The training loop behind train()."""
        num_train = self.X_train.shape[0]
        iterations_per_epoch = max(num_train // self.batch_size, 1)
        num_iterations = self.num_epochs * iterations_per_epoch

        for t in range(num_iterations):
            self._step()

            if self.verbose and t % self.print_every == 0:
                print(f"(Iteration {t + 1} / {num_iterations}) loss: {self.loss_history[-1]:f}")

            epoch_end = (t + 1) % iterations_per_epoch == 0
            if epoch_end:
                self.epoch += 1
                for config in self.optim_configs.values():
                    config["learning_rate"] *= self.lr_decay

            # Measure the accuracies at the start, at the end and after every epoch.
            if t == 0 or t == num_iterations - 1 or epoch_end:
                train_acc = self.check_accuracy(
                    self.X_train, self.y_train, num_samples=self.num_train_samples
                )
                val_acc = self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples)
                self.train_acc_history.append(train_acc)
                self.val_acc_history.append(val_acc)
                self._save_checkpoint()

                if self.verbose:
                    print(
                        f"(Epoch {self.epoch} / {self.num_epochs}) "
                        f"train acc: {train_acc:f}; val_acc: {val_acc:f}"
                    )

                if not self.best_params or val_acc > self.best_val_acc:
                    self.best_val_acc = val_acc
                    self.best_params = {k: v.copy() for k, v in self.model.params.items()}

        self.model.params = self.best_params
