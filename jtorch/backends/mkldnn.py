"""torch.backends.mkldnn: XLA's CPU backend does not use oneDNN through this flag."""
enabled = True
deterministic = False


def is_available():
    return False
