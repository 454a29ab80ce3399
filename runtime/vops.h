/*
 * vops.h - operations on Values: indexing, arithmetic with broadcasting,
 * builtin functions, log densities as values, foreign calls.  Each checks
 * shapes (failing with the instruction's location) and emits tape ops.
 */
#ifndef CM_VOPS_H
#define CM_VOPS_H

#include "exec.h"

Value vops_index(Exec *ex, const IrInstr *in, Value a, const Value *regs);
/* The flat offsets of the elements a[items] selects (IR_INDEX's encoding),
 * row-major; *total of them, shape in *rank, dims.  The executor's scratch:
 * valid until the next index, not to be freed. */
int *vops_index_offsets(Exec *ex, const IrInstr *in, Value a, const Value *regs, int *total,
                        int *rank, int dims[2]);
Value vops_unary(Exec *ex, const IrInstr *in, int op, Value a);
Value vops_binary(Exec *ex, const IrInstr *in, int op, Value a, Value b);
Value vops_builtin(Exec *ex, const IrInstr *in, const Value *args, int nargs);
Value vops_lpdf_value(Exec *ex, const IrInstr *in, const DistInfo *d, const Value *args, int nargs);
Value vops_extern(Exec *ex, const IrInstr *in, const Value *args, int nargs);
/* Elementwise op with broadcasting of length-1 operands. */
Value vops_elementwise(Exec *ex, const IrInstr *in, OpCode code, Value a, Value b);
Value vops_map(Exec *ex, OpCode code, Value a);
/* Element count that all of args broadcast to, or fail. */
int vops_broadcast_n(Exec *ex, const IrInstr *in, const Value *args, int nargs, const char *what);

#endif
