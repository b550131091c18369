"""Training the residual (the only package that imports torch): ``config`` (settings), ``networks``,
``replay`` (episodes + HER), ``train`` (the update rule and the in-process run), ``export`` (ONNX for the graph),
``recordings`` (recorded bags as replay episodes), ``offline`` (training from recordings) and ``trainer_node``
(the trainer node: recordings in, signed models out)."""
