"""The DataPredict distributed-training tutorial, step by step, in Python.

Each block mirrors a block of the original (Lua) tutorial; the comments say where
Python differs: snake_case, 0-based model indices, keyword options, exceptions. The
datasets are three shards of scikit-learn's diabetes data.

Run: ``python examples/seed_tutorial.py``
"""

from __future__ import annotations

import numpy as np

import datapredict
from datapredict.datasets import load_dataset, split


def main() -> dict[str, np.ndarray]:
    data = load_dataset("diabetes")
    (X1, y1), (X2, y2), (X3, y3) = split(data.X, data.y, 3, how="iid", random_state=0)

    # -- Let's initialize 3 LinearRegression models here.
    LinearRegression = datapredict.LinearRegression
    linear_regression_1 = LinearRegression(random_state=1)
    linear_regression_2 = LinearRegression(random_state=2)
    linear_regression_3 = LinearRegression(random_state=3)

    # -- Then, we will train them here.
    linear_regression_1.train(X1, y1)
    linear_regression_2.train(X2, y2)
    linear_regression_3.train(X3, y3)

    # ------------------------------------------------------------ DistributedGradients
    # -- First, let's initialize our DistributedGradients object here.
    distributed_gradients = datapredict.DistributedGradients()

    # -- Then we need a model parameters from a model and send it to the object.
    model_parameters_1 = linear_regression_1.get_model_parameters()
    distributed_gradients.set_model_parameters(model_parameters_1)

    # -- Save the gradients of every iteration, and train one iteration at a time.
    for model in (linear_regression_1, linear_regression_2, linear_regression_3):
        model.set_are_gradients_saved(True)
        model.set_parameters(1)

    # -- Train the models individually and update the main parameters.
    #    (The seed calls getGradients on the class; here it is the instance.)
    for model, (X, y) in zip(
        (linear_regression_1, linear_regression_2, linear_regression_3),
        ((X1, y1), (X2, y2), (X3, y3)),
        strict=True,
    ):
        model.train(X, y)
        gradients = model.get_gradients()
        distributed_gradients.add_gradients(gradients)  # applied before it returns
        updated_model_parameters = distributed_gradients.get_model_parameters()
        model.set_model_parameters(updated_model_parameters)
    gradients_result = distributed_gradients.get_model_parameters()

    # ------------------------------------------------------ DistributedModelParameters
    # -- First, let's initialize our DistributedModelParameters object here.
    #    (updates_per_merge is DataPredict's totalNumberOfChildModelUpdatesToUpdateMainModel.)
    distributed_model_parameters = datapredict.DistributedModelParameters(updates_per_merge=3)

    # -- Second, initialize a ModelParametersMerger and put it into the object.
    model_parameters_merger = datapredict.ModelParametersMerger()
    distributed_model_parameters.set_model_parameters_merger(model_parameters_merger)

    # -- Then we need a model parameters from a model and send it to the object.
    model_parameters_1 = linear_regression_1.get_model_parameters()
    distributed_model_parameters.set_main_model_parameters(model_parameters_1)

    # -- Don't save gradients; train enough iterations for the cost to converge.
    for model in (linear_regression_1, linear_regression_2, linear_regression_3):
        model.set_are_gradients_saved(False)
        model.set_parameters(500)

    # -- We then need to add the models (indices are 0-based in Python).
    index_1 = distributed_model_parameters.add_model(linear_regression_1)
    index_2 = distributed_model_parameters.add_model(linear_regression_2)
    index_3 = distributed_model_parameters.add_model(linear_regression_3)

    # -- Train the models individually; the third call reaches updates_per_merge and
    #    merges the children into the main parameters (no start() needed).
    distributed_model_parameters.train(X1, y1, index_1)
    distributed_model_parameters.train(X2, y2, index_2)
    distributed_model_parameters.train(X3, y3, index_3)

    updated_model_parameters = distributed_model_parameters.get_main_model_parameters()
    linear_regression_1.set_model_parameters(updated_model_parameters)

    score = linear_regression_1.score(data.X, data.y)
    print(f"DistributedGradients main parameters: shape {gradients_result.shape}")
    version = distributed_model_parameters.version
    print(f"DistributedModelParameters version: {version} (set, then merged)")
    print(f"main model R² on all of diabetes: {score:.3f}")
    return {"gradients": gradients_result, "model_parameters": updated_model_parameters}


if __name__ == "__main__":
    main()
