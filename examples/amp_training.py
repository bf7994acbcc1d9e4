"""Mixed-precision training: torch.autocast + torch.amp.GradScaler on a small classifier.
Plain PyTorch: runs with real torch (`python examples/amp_training.py`) and with jtorch
unchanged (`jtorch run examples/amp_training.py`).

Shows: autocast around forward + loss (float16 on CUDA, bfloat16 on the CPU), GradScaler's
scale -> backward -> unscale_ (for gradient clipping) -> step -> update cycle, a step
skipped on purpose by injecting an inf into a gradient (`--poison-step`), and saving and
restoring the scaler's state_dict next to the model's.
"""
import argparse
import math

import torch
import torch.nn as nn


def make_data(n, seed):
    """Two interleaved spirals: a small problem that needs a few nonlinear layers."""
    g = torch.Generator().manual_seed(seed)
    t = torch.rand(n, generator=g) * 3 * math.pi
    label = torch.randint(0, 2, (n,), generator=g)
    r = t / (3 * math.pi)
    sign = label.float() * 2 - 1
    x = torch.stack([r * torch.cos(t) * sign, r * torch.sin(t) * sign], dim=1)
    return x + 0.02 * torch.randn(n, 2, generator=g), label


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--poison-step", type=int, default=3,
                   help="put an inf into one gradient at this step (the scaler must skip it)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    torch.manual_seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    amp_dtype = torch.float16 if device == "cuda" else torch.bfloat16
    x_all, y_all = make_data(4096, args.seed)
    x_all, y_all = x_all.to(device), y_all.to(device)

    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 2)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
    scaler = torch.amp.GradScaler(device, init_scale=2.0 ** 12, growth_interval=50)
    loss_fn = nn.CrossEntropyLoss()

    for step in range(args.steps):
        idx = torch.randint(0, len(x_all), (args.batch_size,), device=device)
        x, y = x_all[idx], y_all[idx]
        optimizer.zero_grad()
        with torch.autocast(device_type=device, dtype=amp_dtype):
            logits = model(x)                 # linear layers run in amp_dtype
            loss = loss_fn(logits, y)         # cross_entropy runs in float32
        scaler.scale(loss).backward()
        if step == args.poison_step:
            with torch.no_grad():
                model[0].weight.grad[0, 0] = float("inf")
        scaler.unscale_(optimizer)            # real gradients, so clipping sees true norms
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        before = model[0].weight.detach().clone()
        scaler.step(optimizer)                # skipped when a gradient is inf/nan
        scaler.update()
        skipped = bool(torch.equal(before, model[0].weight.detach()))
        if step == args.poison_step and not skipped:
            raise SystemExit("the poisoned step was not skipped")
        if step % 25 == 0 or step == args.steps - 1 or step == args.poison_step:
            print(f"step {step} loss {loss.item():.4f} logits {logits.dtype} "
                  f"scale {scaler.get_scale():.0f}" + (" (skipped)" if skipped else ""))

    with torch.no_grad(), torch.autocast(device_type=device, dtype=amp_dtype):
        acc = (model(x_all).argmax(1) == y_all).float().mean().item()
    state = {"model": model.state_dict(), "scaler": scaler.state_dict()}
    restored = torch.amp.GradScaler(device)
    restored.load_state_dict(state["scaler"])
    assert restored.get_scale() == scaler.get_scale()
    print(f"final accuracy {acc:.4f} scaler state {state['scaler']}")


if __name__ == "__main__":
    main()
