"""Logging a short training run to TensorBoard with torch.utils.tensorboard.SummaryWriter.
Plain PyTorch: runs with real torch (`python examples/tensorboard_logging.py`) and with
jtorch unchanged (`jtorch run examples/tensorboard_logging.py`); then
`tensorboard --logdir runs` shows it. Needs the `tensorboard` package.

Shows: add_graph, add_scalar / add_scalars per step, add_histogram of weights and
gradients, add_image of the first layer's weights, add_text, add_hparams, flush/close.
"""
import argparse
import math

import torch
import torch.nn as nn
from torch.utils.tensorboard import SummaryWriter


def make_data(n=256, seed=0):
    """Points in two interleaved spirals; label = which spiral."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3 * math.pi
    label = torch.randint(0, 2, (n,), generator=g)
    sign = label.float() * 2 - 1
    x = torch.stack([t.cos() * t * sign, t.sin() * t * sign], 1) / 10
    return x + 0.05 * torch.randn(n, 2, generator=g), label


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--logdir", default=None, help="default: runs/<date>_<host>")
    p.add_argument("--lr", type=float, default=0.1)
    args = p.parse_args()

    torch.manual_seed(0)
    x, y = make_data()
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 2))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    writer = SummaryWriter(args.logdir, comment="_spirals")
    writer.add_graph(model, x)
    writer.add_text("config", f"lr={args.lr}, steps={args.steps}", 0)
    for step in range(args.steps):
        opt.zero_grad()
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        opt.step()
        acc = (logits.argmax(1) == y).float().mean().item()
        writer.add_scalar("train/loss", loss.item(), step)
        writer.add_scalars("train/metrics", {"accuracy": acc, "error": 1 - acc}, step)
        if step % 10 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f} accuracy {acc:.3f}")
            for name, param in model.named_parameters():
                writer.add_histogram(f"weights/{name}", param, step)
                writer.add_histogram(f"grads/{name}", param.grad, step)
    w = model[0].weight.detach()
    writer.add_image("first_layer_weights", (w - w.min()) / (w.max() - w.min() + 1e-8), 0,
                     dataformats="HW")
    writer.add_hparams({"lr": args.lr, "steps": args.steps},
                       {"hparam/final_loss": loss.item(), "hparam/accuracy": acc},
                       run_name="hparams")
    writer.close()
    print(f"logged to {writer.get_logdir()}")


if __name__ == "__main__":
    main()
