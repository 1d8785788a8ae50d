"""Training the reference ThreeLayerConvNet on real CIFAR-10, as the notebook does.

Needs CIFAR-10 on disk: the folder named by CS260_DATA_DIR (or solution/cs260/datasets/)
must contain cifar-10-batches-py; the tests skip, saying so, when it is absent.
"""
import os

import numpy as np
import pytest

pytestmark = pytest.mark.cifar


@pytest.fixture(scope="module")
def cs(load_tree):
    return load_tree("solution")


@pytest.fixture(scope="module")
def data(cs):
    folder = cs.data_utils.cifar10_dir()
    if not os.path.isdir(folder):
        pytest.skip(f"CIFAR-10 not found at {folder}; set CS260_DATA_DIR to the folder holding "
                    "cifar-10-batches-py (or build it with make_cifar10.py)")
    return cs.data_utils.get_CIFAR10_data()


def test_data_layout(data):
    shapes = {k: v.shape for k, v in data.items()}
    assert shapes == {
        "X_train": (49000, 3, 32, 32), "y_train": (49000,),
        "X_val": (1000, 3, 32, 32), "y_val": (1000,),
        "X_test": (1000, 3, 32, 32), "y_test": (1000,),
    }
    assert data["X_train"].dtype == np.float32
    # The mean image of the training set was subtracted.
    assert np.abs(data["X_train"].mean(axis=0)).max() < 1e-2
    assert set(np.unique(data["y_train"])) == set(range(10))


def test_overfits_small_data(cs, data):
    """Notebook 6.3: 100 training examples, 15 epochs; training accuracy gets high, validation stays low."""
    np.random.seed(260)
    num_train = 100
    small_data = {
        "X_train": data["X_train"][:num_train],
        "y_train": data["y_train"][:num_train],
        # Fewer validation images than the notebook's 1000, to save time; validation
        # does not influence training.
        "X_val": data["X_val"][:300],
        "y_val": data["y_val"][:300],
    }
    model = cs.classifiers.cnn.ThreeLayerConvNet(weight_scale=1e-2)
    solver = cs.solver.Solver(
        model, small_data, num_epochs=15, batch_size=50, update_rule="adam",
        optim_config={"learning_rate": 1e-3}, verbose=False,
    )
    solver.train()
    print(f"overfit 100 examples: train acc {solver.train_acc_history[-1]:.2f}, "
          f"val acc {solver.val_acc_history[-1]:.3f}")
    assert len(solver.loss_history) == 30
    assert len(solver.train_acc_history) == 16
    assert solver.loss_history[-1] < 0.5 * solver.loss_history[0]
    assert solver.train_acc_history[-1] >= 0.8  # notebook: 0.88
    assert solver.val_acc_history[-1] < 0.4  # notebook: 0.228


@pytest.mark.slow
def test_one_epoch_on_full_data(cs, data):
    """Notebook 6.4: one epoch on the whole training set reaches more than 40% training accuracy."""
    np.random.seed(260)
    model = cs.classifiers.cnn.ThreeLayerConvNet(weight_scale=0.001, hidden_dim=500, reg=0.001)
    solver = cs.solver.Solver(
        model, data, num_epochs=1, batch_size=50, update_rule="adam",
        optim_config={"learning_rate": 1e-3}, verbose=False,
    )
    solver.train()
    assert len(solver.loss_history) == 980
    # The notebook measures on 1000 random training images (0.449); 5000 give a steadier figure.
    train_acc = solver.check_accuracy(data["X_train"][:5000], data["y_train"][:5000])
    print(f"one epoch: train acc {train_acc:.3f} (5000 images), "
          f"{solver.train_acc_history[-1]:.3f} (1000), val acc {solver.val_acc_history[-1]:.3f}")
    assert train_acc > 0.4
    assert solver.val_acc_history[-1] > 0.35  # notebook: 0.42
