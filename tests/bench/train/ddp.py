"""PyTorch DDP (Gloo, CPU) on the same GPT as gpt-bench.json: the baseline of
tests/bench/train/run.sh. One process per rank; prints the median tokens/s."""
import argparse, json, math, os, statistics, time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, h, heads, ffn):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(h), nn.LayerNorm(h)
        self.q, self.k, self.v, self.o = (nn.Linear(h, h) for _ in range(4))
        self.up, self.down = nn.Linear(h, ffn), nn.Linear(ffn, h)

    def attention(self, x):
        b, s, h = x.shape
        d = h // self.heads
        q, k, v = (t.view(b, s, self.heads, d).transpose(1, 2) for t in (self.q(x), self.k(x), self.v(x)))
        scores = q @ k.transpose(-2, -1) / math.sqrt(d)
        mask = torch.ones(s, s, dtype=torch.bool).triu(1)
        context = torch.softmax(scores.masked_fill(mask, float("-inf")), -1) @ v
        return self.o(context.transpose(1, 2).reshape(b, s, h))

    def forward(self, x):
        x = x + self.attention(self.ln1(x))
        return x + self.down(F.gelu(self.up(self.ln2(x))))


class Gpt(nn.Module):
    def __init__(self, spec):
        super().__init__()
        g = spec["layers"][0]
        h = g["hidden"]
        self.tokens = nn.Embedding(spec["vocabSize"], h)
        self.positions = nn.Embedding(spec["seqLen"], h)
        self.blocks = nn.ModuleList(Block(h, g["heads"], g["ffnHidden"]) for _ in range(g["count"]))
        self.ln = nn.LayerNorm(h)

    def forward(self, tokens, labels):
        x = self.tokens(tokens) + self.positions(torch.arange(tokens.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.ln(x) @ self.tokens.weight.t()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--global-batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    a = p.parse_args()
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // world))
    spec = json.load(open(a.model))
    torch.manual_seed(0)
    model = nn.parallel.DistributedDataParallel(Gpt(spec))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    seq, vocab, local = spec["seqLen"], spec["vocabSize"], a.global_batch // world
    gen = torch.Generator().manual_seed(rank)
    rates = []
    for step in range(a.steps):
        t0 = time.perf_counter()
        batch = torch.randint(vocab, (local, seq + 1), generator=gen)
        opt.zero_grad()
        model(batch[:, :-1], batch[:, 1:]).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        dt = time.perf_counter() - t0
        if step >= a.warmup:
            rates.append(a.global_batch * seq / dt)
    if rank == 0:
        print(f"pytorch_ddp tokens_per_second {statistics.median(rates):.1f}")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
