// torch.nn.utils.rnn: PackedSequence (a namedtuple: data, batch_sizes, sorted_indices,
// unsorted_indices), pack_padded_sequence / pack_sequence / pad_packed_sequence /
// pad_sequence. The packed length is the sum of the sequence lengths: exact when the
// lengths are constants, else a data-dependent symbol. The batch size of a packed
// sequence is remembered so RNN states and pad_packed_sequence keep it.
import type { CallContext, ClassValue, InstanceValue, TensorValue, Value } from '../interp/values';
import { add, constValue, type Dim } from '../shape/dim';
import { NONE, asBool, asDim, asSequence, isTensor, shapeOf, sig, strV, tupleV, unknownV } from './args';
import { knownValues } from './constValues';
import { builtinFromSignature, dataDependentDim } from './tensorOps';
import type { BuiltinImpl } from '../interp/values';

const FIELDS = ['data', 'batch_sizes', 'sorted_indices', 'unsorted_indices'];

export interface PackedSequences {
  cls: ClassValue;
  functions: Map<string, BuiltinImpl>;
  /** The packed sequence a value is, with its batch size; undefined for anything else. */
  unpack(v: Value | undefined): { data: TensorValue; batchSizes: Value; sorted: Value; unsorted: Value; batch: Dim | undefined } | undefined;
  /** A PackedSequence like `like` (same batch bookkeeping) around new data. */
  withData(like: InstanceValue, data: TensorValue): InstanceValue;
}

export function createPackedSequences(nextId: () => number): PackedSequences {
  const cls: ClassValue = {
    kind: 'class',
    name: 'PackedSequence',
    mro: [],
    attrs: new Map<string, Value>([['_fields', tupleV(FIELDS.map(strV))], ['__namedtuple__', { kind: 'bool', value: true }]]),
    isModule: false,
  };
  cls.mro.push(cls);
  const batchOf = new WeakMap<InstanceValue, Dim>();

  const make = (data: TensorValue, batchSizes: Value, sorted: Value, unsorted: Value, batch: Dim | undefined): InstanceValue => {
    const inst: InstanceValue = {
      kind: 'instance',
      cls,
      attrs: new Map<string, Value>([['data', data], ['batch_sizes', batchSizes], ['sorted_indices', sorted], ['unsorted_indices', unsorted]]),
      module: undefined,
      id: nextId(),
    };
    if (batch !== undefined) batchOf.set(inst, batch);
    return inst;
  };

  const unpack: PackedSequences['unpack'] = (v) => {
    if (v?.kind !== 'instance' || v.cls !== cls) return undefined;
    const data = v.attrs.get('data');
    if (!isTensor(data)) return undefined;
    return { data, batchSizes: v.attrs.get('batch_sizes') ?? NONE, sorted: v.attrs.get('sorted_indices') ?? NONE, unsorted: v.attrs.get('unsorted_indices') ?? NONE, batch: batchOf.get(v) };
  };

  /** Sum and max of the lengths when they are constants. */
  const lengthStats = (lengths: Value | undefined): { total: Dim; longest: Dim; count: Dim | undefined } => {
    const values = isTensor(lengths) ? knownValues(lengths) : asSequence(lengths)?.map((x) => (asDim(x) === undefined ? NaN : constValue(asDim(x)!) ?? NaN));
    const count = isTensor(lengths) ? shapeOf(lengths)?.[0] : asSequence(lengths)?.length;
    if (values && values.every((x) => Number.isFinite(x))) {
      return { total: values.reduce((a, b) => a + b, 0), longest: Math.max(...values), count };
    }
    return { total: dataDependentDim(), longest: dataDependentDim(), count };
  };

  const functions = new Map<string, BuiltinImpl>();
  const def = (name: string, signature: string, impl: (a: Map<string, Value>, ctx: CallContext) => Value): void => {
    functions.set(name, builtinFromSignature(name, sig(signature), impl));
  };

  def('pack_padded_sequence', 'input, lengths, batch_first=False, enforce_sorted=True', (a, ctx) => {
    const input = a.get('input');
    if (!isTensor(input)) return unknownV();
    const s = input.shape;
    const batchFirst = asBool(a.get('batch_first')) ?? false;
    const stats = lengthStats(a.get('lengths'));
    const batch = s && s.length >= 2 ? s[batchFirst ? 0 : 1] : stats.count;
    const rest = s ? s.slice(2) : null;
    const data = ctx.newTensor(rest ? [stats.total, ...rest] : null, input.dtype);
    const sorted = asBool(a.get('enforce_sorted')) ?? true;
    const indices = (): Value => (sorted || batch === undefined ? NONE : ctx.newTensor([batch], 'int64'));
    return make(data, ctx.newTensor([stats.longest], 'int64'), indices(), indices(), batch);
  });
  def('pack_sequence', 'sequences, enforce_sorted=True', (a, ctx) => {
    const seqs = asSequence(a.get('sequences'))?.filter(isTensor);
    if (!seqs || seqs.length === 0) return unknownV();
    const shapes = seqs.map((t) => t.shape);
    if (shapes.some((x) => !x || x.length === 0)) return unknownV();
    const total = shapes.reduce<Dim>((acc, x) => add(acc, x![0]), 0);
    const lengths = shapes.map((x) => constValue(x![0]));
    const longest = lengths.every((l) => l !== undefined) ? Math.max(...(lengths as number[])) : dataDependentDim();
    const sorted = asBool(a.get('enforce_sorted')) ?? true;
    const indices = (): Value => (sorted ? NONE : ctx.newTensor([seqs.length], 'int64'));
    return make(ctx.newTensor([total, ...shapes[0]!.slice(1)], seqs[0].dtype), ctx.newTensor([longest], 'int64'), indices(), indices(), seqs.length);
  });
  def('pad_packed_sequence', 'sequence, batch_first=False, padding_value=0.0, total_length=None', (a, ctx) => {
    const p = unpack(a.get('sequence'));
    if (!p) return unknownV();
    const steps = asDim(a.get('total_length')) ?? shapeOf(p.batchSizes)?.[0];
    const batch = p.batch;
    const rest = p.data.shape?.slice(1);
    const batchFirst = asBool(a.get('batch_first')) ?? false;
    const padded = steps !== undefined && batch !== undefined && rest ? (batchFirst ? [batch, steps, ...rest] : [steps, batch, ...rest]) : null;
    return tupleV([ctx.newTensor(padded, p.data.dtype), ctx.newTensor(batch === undefined ? null : [batch], 'int64')]);
  });
  def('pad_sequence', "sequences, batch_first=False, padding_value=0.0, padding_side='right'", (a, ctx) => {
    const seqs = asSequence(a.get('sequences'))?.filter(isTensor);
    if (!seqs || seqs.length === 0) return unknownV();
    const shapes = seqs.map((t) => t.shape);
    if (shapes.some((x) => !x || x.length === 0)) return ctx.newTensor(null, seqs[0].dtype);
    const lengths = shapes.map((x) => constValue(x![0]));
    const longest = lengths.every((l) => l !== undefined) ? Math.max(...(lengths as number[])) : shapes[0]![0];
    const batchFirst = asBool(a.get('batch_first')) ?? false;
    const rest = shapes[0]!.slice(1);
    return ctx.newTensor(batchFirst ? [seqs.length, longest, ...rest] : [longest, seqs.length, ...rest], seqs[0].dtype);
  });

  const withData: PackedSequences['withData'] = (like, data) => {
    const p = unpack(like);
    return make(data, p?.batchSizes ?? NONE, p?.sorted ?? NONE, p?.unsorted ?? NONE, p?.batch);
  };

  return { cls, functions, unpack, withData };
}
