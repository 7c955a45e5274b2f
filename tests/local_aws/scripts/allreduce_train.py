"""Joins the job's hosts into one torch.distributed process group and sums the ranks across it."""

import datetime
import json
import os

import torch
import torch.distributed as dist

torch.set_num_threads(1)
hosts = json.loads(os.environ["SM_HOSTS"])
rank = hosts.index(os.environ["SM_CURRENT_HOST"])
dist.init_process_group("gloo", init_method=f"tcp://{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}",
                        rank=rank, world_size=len(hosts), timeout=datetime.timedelta(seconds=60))
value = torch.tensor([float(rank + 1)])
dist.all_reduce(value)
print(f"rank {rank} of {dist.get_world_size()}: all_reduce sum {value.item()}", flush=True)
dist.destroy_process_group()
