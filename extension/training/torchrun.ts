// Writes the standalone PyTorch training script of "Export Training Script (torchrun)": the user's
// model imported from their own file, the same data, optimizer, schedule and hyperparameters as a
// Netlens run, DistributedDataParallel with a DistributedSampler, and rank 0 writing the run store.
// Pure: text in, text out (no file system, no vscode); the CLI and the extension write the file.
import * as path from 'node:path';

import type { TrainingDataSpec } from '../engine/protocol';
import type { EngineGraphSpec, EngineOptimizerSpec, EngineScheduleSpec } from './lower';
import { torchrunScriptBody } from './torchrunTemplate';

/** The docstring of every exported script says so; "Launch with torchrun" checks for it. */
export const TORCHRUN_SCRIPT_MARKER = 'Written by Netlens (Export Training Script)';

/** The data as the script reads it: the built-in set is exported to an .npz first (kind 'npy'). */
export interface TorchrunData {
  kind: Exclude<TrainingDataSpec['kind'], 'default'>;
  paths: string[];
  /** The data set's name in the run's `start` event (the engine's name for it). */
  name: string;
  options?: { split?: string; size?: number[]; channels?: number; layout?: string };
}

export interface TorchrunScriptOptions {
  /** Where the script will be written: paths under its folder are written relative to it, so the folder can move. */
  scriptPath: string;
  modelFile: string;
  /** Python expression evaluated in the model file's namespace (`Net()`, `resnet18(num_classes=10)`). */
  entry: string;
  modelName: string;
  /** One sample's shape, without the batch (C, H, W). */
  sampleShape: number[];
  pythonPath: string[];
  data: TorchrunData;
  epochs: number;
  /** Per process: the global batch is this times the number of processes. */
  batch: number;
  maxSteps?: number;
  validation: number;
  augment: boolean;
  seed: number;
  optimizer: EngineOptimizerSpec;
  labelSmoothing?: number;
  /** The lowered engine spec, copied into the run's config.json so Netlens can open its checkpoints; null when the engine cannot run the model. */
  spec: EngineGraphSpec | null;
  /** Fields for config.json beyond what the script fills in (the training data as Netlens names it, the file). */
  config: Record<string, unknown>;
}

/** Every optimizer hyperparameter spelled out with the engine's defaults (graph_spec.cpp), which are PyTorch's. */
export interface CompleteOptimizer {
  type: EngineOptimizerSpec['type'];
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weight_decay: number;
  betas: [number, number];
  eps: number;
  alpha: number;
  centered: boolean;
  frozen: string[];
  schedule: Required<EngineScheduleSpec>;
}

interface OptimizerExtras {
  dampening?: number;
  betas?: [number, number];
  eps?: number;
  alpha?: number;
  centered?: boolean;
}

export function completeOptimizer(optimizer: EngineOptimizerSpec & OptimizerExtras): CompleteOptimizer {
  const schedule = optimizer.schedule;
  return {
    type: optimizer.type,
    lr: optimizer.lr,
    momentum: optimizer.momentum ?? 0,
    dampening: optimizer.dampening ?? 0,
    nesterov: optimizer.nesterov ?? false,
    weight_decay: optimizer.weight_decay ?? (optimizer.type === 'adamw' ? 0.01 : 0),
    betas: optimizer.betas ?? [0.9, 0.999],
    eps: optimizer.eps ?? 1e-8,
    alpha: optimizer.alpha ?? 0.99,
    centered: optimizer.centered ?? false,
    frozen: optimizer.frozen ?? [],
    schedule: {
      type: schedule?.type ?? 'constant',
      step_size: schedule?.step_size ?? 0,
      gamma: schedule?.gamma ?? 0.1,
      t_max: schedule?.t_max ?? 0,
      eta_min: schedule?.eta_min ?? 0,
      warmup_steps: schedule?.warmup_steps ?? 0,
      warmup_start_factor: schedule?.warmup_start_factor ?? 0,
    },
  };
}

/** A JSON value written as a Python literal (JSON strings and numbers are valid Python). */
export function pythonLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`cannot write ${value} into the script`);
    return Number.isInteger(value) ? String(value) : JSON.stringify(value);
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([key, v]) => `${JSON.stringify(key)}: ${pythonLiteral(v)}`).join(', ')}}`;
  }
  throw new Error(`cannot write a ${typeof value} into the script`);
}

/** A path under the script's folder relative to it (a relative path already is), any other absolute. */
function relativeToScript(scriptPath: string, target: string): string {
  const folder = path.dirname(path.resolve(scriptPath));
  const absolute = path.resolve(folder, target);
  const relative = path.relative(folder, absolute);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative.split(path.sep).join('/') : absolute;
}

/** The torchrun command lines shown to the user. */
export interface TorchrunCommandLines {
  /** One machine with several GPUs (or CPU processes). */
  singleMachine: string;
  /** Several machines: the same line on each, with its own --node_rank. */
  multiMachine: string;
}

export interface TorchrunCommandOptions {
  /** Processes per machine: a count, or torchrun's 'gpu' (one per GPU), 'auto', 'cpu'. */
  processesPerNode: number | string;
  nodes: number;
  /** HOST:PORT of the rendezvous (on the first machine). */
  endpoint: string;
  /** Extra arguments for the script, e.g. `--runs-root DIR`. */
  scriptArguments?: string[];
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function torchrunCommandLines(script: string, options: TorchrunCommandOptions): TorchrunCommandLines {
  const tail = [script, ...(options.scriptArguments ?? [])].map(shellQuote).join(' ');
  return {
    singleMachine: `torchrun --standalone --nproc_per_node=${options.processesPerNode} ${tail}`,
    multiMachine: `torchrun --nnodes=${options.nodes} --node_rank=NODE_RANK --nproc_per_node=${options.processesPerNode} ` +
      `--rdzv_backend=c10d --rdzv_endpoint=${options.endpoint} --rdzv_id=netlens ${tail}`,
  };
}

export function torchrunScript(options: TorchrunScriptOptions): string {
  const scriptName = path.basename(options.scriptPath);
  const optimizer = completeOptimizer(options.optimizer);
  const lines = torchrunCommandLines(scriptName, { processesPerNode: 'gpu', nodes: 2, endpoint: 'HOST:29500' });
  const data: TorchrunData = { ...options.data, paths: options.data.paths.map((p) => relativeToScript(options.scriptPath, p)) };
  const header = `#!/usr/bin/env python3
"""Train ${options.modelName} (${options.entry}) with PyTorch DistributedDataParallel, launched by torchrun.

${TORCHRUN_SCRIPT_MARKER}. It needs torch and numpy (safetensors is used when
installed; image folders need Pillow), not Netlens. Every process reads the whole data set and
trains on its DistributedSampler shard; process 0 writes the run to RUNS_ROOT/.netlens/runs/<id>/
(config.json, status.json, metrics.jsonl, checkpoints/*.safetensors keyed by state_dict names),
the format Netlens shows and loads. Backend: nccl on GPUs, gloo on CPUs.

One machine, several GPUs (one process each):
    ${lines.singleMachine}
Several machines (run on each, NODE_RANK = 0, 1, ...; HOST is the first machine):
    ${lines.multiMachine}
Options: --epochs E --batch B (per process) --max-steps N --runs-root DIR --device auto|cpu|cuda
Ctrl-C / SIGTERM finishes the step in flight, writes a checkpoint and stops every process.
"""
import argparse
import datetime
import gzip
import importlib.util
import json
import math
import os
import signal
import struct
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

# ----------------------------------------------------------------------------------------------
# What Netlens exported: edit freely. Relative paths are relative to this script's folder.
# ----------------------------------------------------------------------------------------------

MODEL_FILE = ${pythonLiteral(relativeToScript(options.scriptPath, options.modelFile))}
MODEL_ENTRY = ${pythonLiteral(options.entry)}
PYTHON_PATH = ${pythonLiteral(options.pythonPath.map((p) => relativeToScript(options.scriptPath, p)))}
SAMPLE_SHAPE = (${options.sampleShape.join(', ')})
DATA = ${pythonLiteral(data)}

EPOCHS = ${options.epochs}
BATCH_SIZE = ${options.batch}  # per process
MAX_STEPS = ${pythonLiteral(options.maxSteps ?? null)}
VALIDATION_FRACTION = ${pythonLiteral(options.validation)}
AUGMENT = ${pythonLiteral(options.augment)}  # random crop (padding 4) and horizontal flip
SEED = ${options.seed}
LABEL_SMOOTHING = ${pythonLiteral(options.labelSmoothing ?? 0)}
OPTIMIZER = {
${Object.entries(optimizer).map(([key, value]) => `    ${JSON.stringify(key)}: ${pythonLiteral(value)},`).join('\n')}
}

# Copied into the run's config.json: what Netlens needs to show this run and open its checkpoints.
RUN_CONFIG = ${pythonLiteral({ ...options.config, model: options.modelName, entry: options.entry, epochs: options.epochs, batch: options.batch, validation: options.validation, augment: options.augment, seed: options.seed, optimizer: options.optimizer, resumed_from: null })}
`;
  // The spec is data for Netlens, not for reading: one line at the very end.
  const footer = `\n# The engine graph spec Netlens lowered from the model (for config.json only).\nNETLENS_SPEC = ${options.spec ? `json.loads(${JSON.stringify(JSON.stringify(options.spec))})` : 'None'}\n`;
  const body = torchrunScriptBody;
  const mainGuard = '\nif __name__ == "__main__":';
  const at = body.lastIndexOf(mainGuard);
  return header + body.slice(0, at) + footer + body.slice(at);
}
