#!/usr/bin/python3
"""
The baseline of `bench/run.mjs`: the original GraphDef -> MPSCNN conversion script's
algorithm, written with Google's protobuf (C++ backend) and numpy, as efficiently as
that algorithm allows (np.frombuffer on tensor_content, vectorized folds, one pass per
tensor, tofile).

    /usr/bin/python3 bench/baseline_numpy.py model.pb outdir

There are no TensorFlow `_pb2` modules here: the message classes are built at run time
from a FileDescriptorProto constructed below, with the field numbers of
tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,types,versions}.proto.

For each `<layer>/conv2d_params` Const and its `<layer>/batchnorm`
(BatchNormWithGlobalNormalization: inputs t, mean, variance, beta, gamma):
    s  = gamma / sqrt(variance + eps)          (gamma = 1 without scale_after_normalization)
    W' = (W * s).transpose(3, 0, 1, 2)         HWIO -> OHWI
    b' = beta - mean * s
and for `softmax/weights` [in, out]: W.T as [out, 1, 1, in], bias `softmax/biases`.
Writes `weights_<layer>.dat` and `bias_<layer>.dat` (float32), layer = the weight node's
name minus its last path segment, `/` -> `_`.
"""
import os
import sys

import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto
OPTIONAL, REPEATED = F.LABEL_OPTIONAL, F.LABEL_REPEATED


def build_classes():
    fdp = descriptor_pb2.FileDescriptorProto()
    fdp.name = 'bench/tensorflow_graph.proto'
    fdp.package = 'tensorflow'
    fdp.syntax = 'proto3'

    enum = fdp.enum_type.add()
    enum.name = 'DataType'
    for name, number in [
        ('DT_INVALID', 0), ('DT_FLOAT', 1), ('DT_DOUBLE', 2), ('DT_INT32', 3), ('DT_UINT8', 4),
        ('DT_INT16', 5), ('DT_INT8', 6), ('DT_STRING', 7), ('DT_COMPLEX64', 8), ('DT_INT64', 9),
        ('DT_BOOL', 10), ('DT_QINT8', 11), ('DT_QUINT8', 12), ('DT_QINT32', 13), ('DT_BFLOAT16', 14),
        ('DT_QINT16', 15), ('DT_QUINT16', 16), ('DT_UINT16', 17), ('DT_COMPLEX128', 18), ('DT_HALF', 19),
        ('DT_RESOURCE', 20), ('DT_VARIANT', 21), ('DT_UINT32', 22), ('DT_UINT64', 23),
    ]:
        v = enum.value.add()
        v.name, v.number = name, number

    def message(container, name):
        m = container.add()
        m.name = name
        return m

    def field(m, name, number, ftype, label=OPTIONAL, type_name=None, oneof=None):
        f = m.field.add()
        f.name, f.number, f.type, f.label = name, number, ftype, label
        if type_name:
            f.type_name = type_name
        if oneof is not None:
            f.oneof_index = oneof
        return f

    def map_field(m, name, number, entry_name, value_type_name):
        entry = message(m.nested_type, entry_name)
        entry.options.map_entry = True
        field(entry, 'key', 1, F.TYPE_STRING)
        field(entry, 'value', 2, F.TYPE_MESSAGE, type_name=value_type_name)
        field(m, name, number, F.TYPE_MESSAGE, REPEATED, f'.tensorflow.{m.name}.{entry_name}')

    # versions.proto
    vd = message(fdp.message_type, 'VersionDef')
    field(vd, 'producer', 1, F.TYPE_INT32)
    field(vd, 'min_consumer', 2, F.TYPE_INT32)
    field(vd, 'bad_consumers', 3, F.TYPE_INT32, REPEATED)

    # tensor_shape.proto
    ts = message(fdp.message_type, 'TensorShapeProto')
    dim = message(ts.nested_type, 'Dim')
    field(dim, 'size', 1, F.TYPE_INT64)
    field(dim, 'name', 2, F.TYPE_STRING)
    field(ts, 'dim', 2, F.TYPE_MESSAGE, REPEATED, '.tensorflow.TensorShapeProto.Dim')
    field(ts, 'unknown_rank', 3, F.TYPE_BOOL)

    # tensor.proto (resource handles and variants left out: skipped as unknown fields)
    tp = message(fdp.message_type, 'TensorProto')
    field(tp, 'dtype', 1, F.TYPE_ENUM, type_name='.tensorflow.DataType')
    field(tp, 'tensor_shape', 2, F.TYPE_MESSAGE, type_name='.tensorflow.TensorShapeProto')
    field(tp, 'version_number', 3, F.TYPE_INT32)
    field(tp, 'tensor_content', 4, F.TYPE_BYTES)
    field(tp, 'half_val', 13, F.TYPE_INT32, REPEATED)
    field(tp, 'float_val', 5, F.TYPE_FLOAT, REPEATED)
    field(tp, 'double_val', 6, F.TYPE_DOUBLE, REPEATED)
    field(tp, 'int_val', 7, F.TYPE_INT32, REPEATED)
    field(tp, 'string_val', 8, F.TYPE_BYTES, REPEATED)
    field(tp, 'scomplex_val', 9, F.TYPE_FLOAT, REPEATED)
    field(tp, 'int64_val', 10, F.TYPE_INT64, REPEATED)
    field(tp, 'bool_val', 11, F.TYPE_BOOL, REPEATED)
    field(tp, 'dcomplex_val', 12, F.TYPE_DOUBLE, REPEATED)
    field(tp, 'uint32_val', 16, F.TYPE_UINT32, REPEATED)
    field(tp, 'uint64_val', 17, F.TYPE_UINT64, REPEATED)

    # attr_value.proto
    av = message(fdp.message_type, 'AttrValue')
    lv = message(av.nested_type, 'ListValue')
    field(lv, 's', 2, F.TYPE_BYTES, REPEATED)
    field(lv, 'i', 3, F.TYPE_INT64, REPEATED)
    field(lv, 'f', 4, F.TYPE_FLOAT, REPEATED)
    field(lv, 'b', 5, F.TYPE_BOOL, REPEATED)
    field(lv, 'type', 6, F.TYPE_ENUM, REPEATED, '.tensorflow.DataType')
    field(lv, 'shape', 7, F.TYPE_MESSAGE, REPEATED, '.tensorflow.TensorShapeProto')
    field(lv, 'tensor', 8, F.TYPE_MESSAGE, REPEATED, '.tensorflow.TensorProto')
    field(lv, 'func', 9, F.TYPE_MESSAGE, REPEATED, '.tensorflow.NameAttrList')
    av.oneof_decl.add().name = 'value'
    field(av, 's', 2, F.TYPE_BYTES, oneof=0)
    field(av, 'i', 3, F.TYPE_INT64, oneof=0)
    field(av, 'f', 4, F.TYPE_FLOAT, oneof=0)
    field(av, 'b', 5, F.TYPE_BOOL, oneof=0)
    field(av, 'type', 6, F.TYPE_ENUM, type_name='.tensorflow.DataType', oneof=0)
    field(av, 'shape', 7, F.TYPE_MESSAGE, type_name='.tensorflow.TensorShapeProto', oneof=0)
    field(av, 'tensor', 8, F.TYPE_MESSAGE, type_name='.tensorflow.TensorProto', oneof=0)
    field(av, 'list', 1, F.TYPE_MESSAGE, type_name='.tensorflow.AttrValue.ListValue', oneof=0)
    field(av, 'func', 10, F.TYPE_MESSAGE, type_name='.tensorflow.NameAttrList', oneof=0)
    field(av, 'placeholder', 9, F.TYPE_STRING, oneof=0)

    nal = message(fdp.message_type, 'NameAttrList')
    field(nal, 'name', 1, F.TYPE_STRING)
    map_field(nal, 'attr', 2, 'AttrEntry', '.tensorflow.AttrValue')

    # node_def.proto (experimental debug info / full type left out)
    nd = message(fdp.message_type, 'NodeDef')
    field(nd, 'name', 1, F.TYPE_STRING)
    field(nd, 'op', 2, F.TYPE_STRING)
    field(nd, 'input', 3, F.TYPE_STRING, REPEATED)
    field(nd, 'device', 4, F.TYPE_STRING)
    map_field(nd, 'attr', 5, 'AttrEntry', '.tensorflow.AttrValue')

    # graph.proto (function library and debug info left out)
    gd = message(fdp.message_type, 'GraphDef')
    field(gd, 'node', 1, F.TYPE_MESSAGE, REPEATED, '.tensorflow.NodeDef')
    field(gd, 'versions', 4, F.TYPE_MESSAGE, type_name='.tensorflow.VersionDef')
    field(gd, 'version', 3, F.TYPE_INT32)

    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName('tensorflow.GraphDef')
    if hasattr(message_factory, 'GetMessageClass'):  # protobuf >= 4.22
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


DT_FLOAT = 1


def tensor_array(t):
    if t.dtype != DT_FLOAT:
        raise ValueError(f'expected a float32 tensor, got dtype {t.dtype}')
    shape = tuple(d.size for d in t.tensor_shape.dim)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if t.tensor_content:
        a = np.frombuffer(t.tensor_content, dtype='<f4')
    else:
        vals = np.asarray(t.float_val, dtype=np.float32)
        a = np.full(n, vals[-1], dtype=np.float32) if 0 < vals.size < n else vals
    if a.size != n:
        raise ValueError(f'tensor of shape {shape} has {a.size} values')
    return a.reshape(shape)


def node_name(inp):
    return inp.lstrip('^').split(':')[0]


def main():
    src, out = sys.argv[1], sys.argv[2]
    GraphDef = build_classes()
    g = GraphDef()
    with open(src, 'rb') as f:
        g.ParseFromString(f.read())
    nodes = {n.name: n for n in g.node}
    os.makedirs(out, exist_ok=True)

    def const(name):
        return tensor_array(nodes[node_name(name)].attr['value'].tensor)

    def write(layer_node, w, b):
        layer = layer_node.rsplit('/', 1)[0].replace('/', '_')
        w.tofile(os.path.join(out, f'weights_{layer}.dat'))
        b.tofile(os.path.join(out, f'bias_{layer}.dat'))

    count = 0
    for n in g.node:
        if n.op == 'Const' and n.name.endswith('/conv2d_params'):
            prefix = n.name[: -len('/conv2d_params')]
            bn = nodes[f'{prefix}/batchnorm']
            mean, var, beta, gamma = (const(i) for i in bn.input[1:5])
            eps = bn.attr['variance_epsilon'].f
            if not bn.attr['scale_after_normalization'].b:
                gamma = np.ones_like(gamma)
            s = (gamma / np.sqrt(var + np.float32(eps))).astype(np.float32)
            w = tensor_array(n.attr['value'].tensor)  # HWIO
            folded = np.empty((w.shape[3], w.shape[0], w.shape[1], w.shape[2]), dtype=np.float32)
            np.multiply(w.transpose(3, 0, 1, 2), s[:, None, None, None], out=folded)  # OHWI, one pass
            write(n.name, folded, (beta - mean * s).astype(np.float32))
            count += 1
        elif n.op == 'Const' and n.name == 'softmax/weights':
            w = tensor_array(n.attr['value'].tensor)  # [in, out]
            wt = np.ascontiguousarray(w.T).reshape(w.shape[1], 1, 1, w.shape[0])
            write(n.name, wt, const('softmax/biases'))
            count += 1
    if count == 0:
        raise SystemExit('no layers found')


if __name__ == '__main__':
    main()
