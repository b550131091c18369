"""Training the residual (the only package that imports torch): ``config`` (settings), ``networks``,
``replay`` (episodes + HER), ``train`` (the update rule and the run), ``export`` (ONNX for the graph)."""
