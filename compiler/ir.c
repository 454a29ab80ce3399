/*
 * ir.c - building and printing IR code blocks.
 *
 * The printed form is the one docs/ir.md documents and `cmrun --emit-ir`
 * shows: one line per instruction, `%N` for registers, `@name` for
 * variables, instruction indices on the left so jumps can be followed.
 */
#include <stdlib.h>
#include <string.h>

#include "ir.h"

int ir_emit(IrCode *c, IrOp op, int line, int col)
{
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 64;
        IrInstr *p = realloc(c->code, sizeof(IrInstr) * (size_t)nc);
        if (!p) {
            fprintf(stderr, "cmrun: out of memory\n");
            exit(3);
        }
        c->code = p;
        c->cap = nc;
    }
    IrInstr *in = &c->code[c->n];
    memset(in, 0, sizeof *in);
    in->op = op;
    in->dst = in->a = in->b = in->c = -1;
    in->jump = -1;
    in->var = -1;
    in->line = line;
    in->col = col;
    return c->n++;
}

int ir_new_reg(IrCode *c) { return c->nregs++; }

static const char *type_str(Type t, char *buf, size_t n)
{
    static const char *base[] = {"int", "real", "bool"};
    snprintf(buf, n, "%s%s", base[t.base], t.rank == 0 ? "" : t.rank == 1 ? "[]" : "[,]");
    return buf;
}

static const char *binop_str(int op)
{
    static char buf[4];
    switch (op) {
    case AST_OP_EQ: return "==";
    case AST_OP_NE: return "!=";
    case AST_OP_LE: return "<=";
    case AST_OP_GE: return ">=";
    case AST_OP_AND: return "&&";
    case AST_OP_OR: return "||";
    case AST_OP_EMUL: return ".*";
    case AST_OP_EDIV: return "./";
    }
    buf[0] = (char)op;
    buf[1] = 0;
    return buf;
}

static void print_args(FILE *out, const IrInstr *in, int from, int to)
{
    for (int i = from; i < to; i++)
        fprintf(out, "%s%%%d", i > from ? ", " : "", in->args[i]);
}

/* Index items: %r, %lo..%hi or ':' (akind; plain registers without it). */
static void print_index_items(FILE *out, const IrInstr *in)
{
    for (int k = 0; k < in->nargs; k++) {
        if (k)
            fputs(", ", out);
        if (!in->akind || in->akind[k] == 0)
            fprintf(out, "%%%d", in->args[k]);
        else if (in->akind[k] == 1)
            fprintf(out, "%%%d..%%%d", in->args[k], in->args[k + 1]), k++;
        else
            fputc(':', out);
    }
}

static void print_code(FILE *out, const Program *p, const IrCode *c, const IrVar *vars)
{
    for (int i = 0; i < c->n; i++) {
        const IrInstr *in = &c->code[i];
        const char *vn = in->var >= 0 && vars ? vars[in->var].name : "?";
        fprintf(out, "  %4d  ", i);
        switch (in->op) {
        case IR_CONST:
            if (in->sub == TY_REAL)
                fprintf(out, "%%%d = const %.17g", in->dst, in->num);
            else if (in->sub == TY_BOOL)
                fprintf(out, "%%%d = const %s", in->dst, in->num != 0 ? "true" : "false");
            else
                fprintf(out, "%%%d = const %.0f", in->dst, in->num);
            break;
        case IR_DATA:
            fprintf(out, "data @%s", vn);
            if (in->nargs) {
                fputs(" shape(", out);
                print_args(out, in, 0, in->nargs);
                fputc(')', out);
            }
            break;
        case IR_ALLOC:
            fprintf(out, "alloc @%s shape(", vn);
            print_args(out, in, 0, in->nargs);
            fputc(')', out);
            break;
        case IR_LOAD:
            fprintf(out, "%%%d = load @%s", in->dst, vn);
            break;
        case IR_STORE:
            fprintf(out, "store @%s = %%%d", vn, in->a);
            break;
        case IR_STORE_IDX:
            fprintf(out, "store @%s[", vn);
            print_index_items(out, in);
            fprintf(out, "] = %%%d", in->a);
            break;
        case IR_INDEX:
            fprintf(out, "%%%d = index %%%d[", in->dst, in->a);
            print_index_items(out, in);
            fputc(']', out);
            break;
        case IR_UNOP:
            fprintf(out, "%%%d = %c%%%d", in->dst, in->sub, in->a);
            break;
        case IR_BINOP:
            fprintf(out, "%%%d = %%%d %s %%%d", in->dst, in->a, binop_str(in->sub), in->b);
            break;
        case IR_CALL:
            fprintf(out, "%%%d = call %s(", in->dst, cm_builtins[in->fn].name);
            print_args(out, in, 0, in->nargs);
            fputc(')', out);
            break;
        case IR_CALL_FN:
            fprintf(out, "%%%d = call @%s(", in->dst, p->fns[in->fn].name);
            print_args(out, in, 0, in->nargs);
            fputc(')', out);
            break;
        case IR_CALL_EXT:
            fprintf(out, "%%%d = call extern @%s(", in->dst, p->externs[in->fn].name);
            print_args(out, in, 0, in->nargs);
            fputc(')', out);
            break;
        case IR_LPDF:
            fprintf(out, "%%%d = lpdf %s(%%%d | ", in->dst, in->dist->name, in->args[0]);
            print_args(out, in, 1, in->nargs);
            fputc(')', out);
            break;
        case IR_VEC:
            fprintf(out, "%%%d = [", in->dst);
            print_args(out, in, 0, in->nargs);
            fputc(']', out);
            break;
        case IR_SAMPLE:
            fprintf(out, "sample @%s", vn);
            if (in->nidx) {
                fputc('[', out);
                print_args(out, in, 0, in->nidx);
                fputc(']', out);
            }
            fprintf(out, " ~ %s(", in->dist->name);
            print_args(out, in, in->nidx, in->nargs - in->ndims);
            fputc(')', out);
            if (in->a >= 0 || in->b >= 0) {
                fputs(" T[", out);
                if (in->a >= 0)
                    fprintf(out, "%%%d", in->a);
                fputs(", ", out);
                if (in->b >= 0)
                    fprintf(out, "%%%d", in->b);
                fputc(']', out);
            }
            if (in->ndims) {
                fputs(" shape(", out);
                print_args(out, in, in->nargs - in->ndims, in->nargs);
                fputc(')', out);
            }
            if (vars && vars[in->var].con != CON_NONE) {
                static const char *cn[] = {"", "ordered", "positive_ordered", "simplex",
                                           "positive", "unit"};
                fprintf(out, " constrained %s", cn[vars[in->var].con]);
            }
            fputs("    ; observe if bound, else latent; do() applies here", out);
            break;
        case IR_FACTOR:
            fprintf(out, "factor %%%d", in->a);
            if (in->var >= 0)
                fprintf(out, "    ; density of @%s: cut by do()", vn);
            break;
        case IR_LOOP:
            fprintf(out, "%s %%%d = %%%d .. %%%d", in->sub ? "plate" : "loop", in->dst, in->a,
                    in->b);
            if (in->c >= 0)
                fprintf(out, " subsample %%%d", in->c);
            fprintf(out, " else goto %d", in->jump);
            break;
        case IR_ENDLOOP:
            fprintf(out, "endloop goto %d", in->jump);
            break;
        case IR_BRANCH:
            fprintf(out, "if !%%%d goto %d", in->a, in->jump);
            break;
        case IR_JUMP:
            fprintf(out, "goto %d", in->jump);
            break;
        case IR_RETURN:
            fprintf(out, "return %%%d", in->a);
            break;
        }
        fputc('\n', out);
    }
}

void ir_print(FILE *out, const Program *p)
{
    char tb[32];
    fprintf(out, "; cm IR for %s\n", p->path);
    static const char *role[] = {"data", "site", "det", "local"};
    for (int i = 0; i < p->nvars; i++) {
        const IrVar *v = &p->vars[i];
        fprintf(out, "var @%s : %s %s", v->name, role[v->role], type_str(v->type, tb, sizeof tb));
        if (v->indexed)
            fputs(" indexed", out);
        if (v->plate >= 0)
            fprintf(out, " plate(%s)", p->plates[v->plate].label);
        if (v->nparents) {
            fputs(" parents(", out);
            for (int k = 0; k < v->nparents; k++)
                fprintf(out, "%s@%s", k ? ", " : "", p->vars[v->parents[k]].name);
            fputc(')', out);
        }
        fputc('\n', out);
    }
    for (int i = 0; i < p->nexterns; i++) {
        const IrExtern *e = &p->externs[i];
        fprintf(out, "extern @%s/%d -> %s from \"%s\"%s%s\n", e->name, e->nparams,
                type_str(e->ret, tb, sizeof tb), e->lib, e->grad_sym ? " grad " : "",
                e->grad_sym ? e->grad_sym : "");
    }
    for (int i = 0; i < p->nfns; i++) {
        const IrFn *f = &p->fns[i];
        fprintf(out, "fn @%s(", f->name);
        for (int k = 0; k < f->nparams; k++)
            fprintf(out, "%s@%s: %s", k ? ", " : "", f->vars[k].name,
                    type_str(f->ptypes[k], tb, sizeof tb));
        fprintf(out, ") -> %s  ; %d registers\n", type_str(f->ret, tb, sizeof tb), f->code.nregs);
        print_code(out, p, &f->code, f->vars);
    }
    fprintf(out, "model  ; %d registers\n", p->main.nregs);
    print_code(out, p, &p->main, p->vars);
}
