"""CNN classifier: Conv2d (bias-free before BatchNorm: a bias there gets a zero gradient up to
roundoff, which Adam would amplify into noise), BatchNorm2d (train/eval, running stats), MaxPool2d,
AdaptiveAvgPool2d, Flatten, Adam; eval-mode loss uses the running statistics."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from _common import numpy_init_, param_checksum, report


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, kernel_size=3, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(16 * 2 * 2, 32), nn.ReLU(),
                                nn.Linear(32, 3))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)   # 12x12 -> 6x6
        x = F.relu(self.bn2(self.conv2(x)))                     # 6x6 -> 4x4
        return self.fc(self.pool(x))


rng = np.random.RandomState(0)
images = rng.rand(96, 1, 12, 12).astype(np.float32)
labels = (images[:, 0, :6].mean((1, 2)) * 3 > images[:, 0, 6:].mean((1, 2)) * 2.7 + 0.1)
labels = labels.astype(np.int64) + (images[:, 0, :, :6].mean((1, 2)) > 0.5).astype(np.int64)
x_all, y_all = torch.from_numpy(images), torch.from_numpy(labels)

model = numpy_init_(Net(), seed=1)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.99), weight_decay=1e-4)
order = rng.permutation(96)
for step in range(12):
    idx = torch.from_numpy(order[(step % 6) * 16:(step % 6 + 1) * 16])
    model.train()
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x_all[idx]), y_all[idx])
    loss.backward()
    optimizer.step()
    report(f"step {step}", loss=loss, grad_conv1=model.conv1.weight.grad.norm())

model.eval()
with torch.no_grad():
    eval_loss = F.cross_entropy(model(x_all), y_all)
report("final", eval_loss=eval_loss, running_mean=model.bn1.running_mean.abs().sum(),
       running_var=model.bn2.running_var.sum(), tracked=model.bn1.num_batches_tracked.item(),
       checksum=param_checksum(model))
