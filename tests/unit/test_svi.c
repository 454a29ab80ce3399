/*
 * test_svi.c - SVI: the guides' gradients and densities, the optimisers,
 * fits on C targets with known answers, and the engine on cm models.
 *
 * The gradient of each guide is checked against central differences of
 * the single-draw ELBO with the draw's noise held fixed (re-seeding the
 * RNG), which is exactly the function whose gradient svi_fit() follows.
 * Fits are checked against closed forms: a Gaussian target is matched
 * exactly by the full-rank guide, the mean-field guide's optimum is the
 * target's mean with variances 1 / P_ii, the Laplace guide's covariance is
 * P^-1 and the delta guide's point the mode.  On cm models the targets are
 * the conjugate posteriors of examples/svi: a normal mean with known
 * variance, and Beta-Bernoulli, where the guide's constrained mean and sd
 * are computed by Gauss-Hermite quadrature of the fitted guide (no Monte
 * Carlo error) and compared with the exact Beta posterior; the engine's
 * draws are then compared with the same quadrature at 4 Monte Carlo
 * standard errors.  Tolerances on fitted values are those of the brief
 * (2%) or derived from the optimiser's measured jitter at the settings
 * used (a decaying learning rate, several particles), never widened to
 * make a run pass.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_rng.h>

#include "check.h"
#include "data.h"
#include "diag.h"
#include "ir.h"
#include "model.h"
#include "svi.h"

#define LOG_2PI 1.8378770664093454836

/* ---- a Gaussian target: N(mean, P^-1), P dense ------------------------- */

typedef struct {
    int dim;
    const double *mean, *prec;
    long calls;
} Gauss;

static double gauss_logp(void *ctx, const double *q, double *g)
{
    Gauss *t = ctx;
    int n = t->dim;
    double lp = 0;
    t->calls++;
    for (int i = 0; i < n; i++) {
        double s = 0;
        for (int j = 0; j < n; j++)
            s += t->prec[i * n + j] * (q[j] - t->mean[j]);
        g[i] = -s;
        lp -= 0.5 * s * (q[i] - t->mean[i]);
    }
    return lp;
}

/* covariance of a guide, dense, from its natural factor (for checks only) */
static void guide_cov(const SviGuide *g, double *cov)
{
    int d = g->dim, c = g->form == SVI_FORM_TRIL ? d : g->rank;
    double *f = calloc((size_t)d * (size_t)(c + 1), sizeof(double));
    if (g->form == SVI_FORM_TRIL || g->form == SVI_FORM_LOWRANK)
        for (int i = 0; i < d; i++)
            svi_guide_cov_row_factor(g, i, f + (size_t)i * c);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) {
            double v = 0;
            if (g->form != SVI_FORM_TRIL && i == j)
                v = g->scale[i] * g->scale[i];
            for (int k = 0; k < c; k++)
                v += f[i * c + k] * f[j * c + k];
            cov[i * d + j] = v;
        }
    free(f);
}

/* log N(z; loc, cov) by a dense Cholesky (GSL), and 0.5 log det(2 pi e cov) */
static double dense_log_normal(int d, const double *loc, const double *cov, const double *z,
                               double *entropy)
{
    gsl_matrix *c = gsl_matrix_alloc((size_t)d, (size_t)d);
    memcpy(c->data, cov, sizeof(double) * (size_t)d * d);
    gsl_linalg_cholesky_decomp1(c);
    double ld = 0, quad = 0, *x = calloc((size_t)d, sizeof(double));
    for (int i = 0; i < d; i++) {
        double s = z[i] - loc[i];
        for (int j = 0; j < i; j++)
            s -= gsl_matrix_get(c, i, j) * x[j];
        x[i] = s / gsl_matrix_get(c, i, i);
        quad += x[i] * x[i];
        ld += 2 * log(gsl_matrix_get(c, i, i));
    }
    *entropy = 0.5 * ld + 0.5 * d * (1 + LOG_2PI);
    free(x);
    gsl_matrix_free(c);
    return -0.5 * quad - 0.5 * ld - 0.5 * d * LOG_2PI;
}

/* ---- guide algebra -------------------------------------------------------- */

/* single-draw ELBO with the noise fixed by the seed, and its gradient */
static double fixed_elbo(SviGuide *g, const SamplerTarget *t, gsl_rng *rng, double *grad)
{
    double z[8], gl[8];
    svi_guide_prepare(g);
    gsl_rng_set(rng, 4242);
    svi_guide_sample(g, rng, z);
    double lp = t->logp_grad(t->ctx, z, gl);
    if (grad) {
        memset(grad, 0, sizeof(double) * (size_t)g->nparams);
        svi_guide_add_path_grad(g, gl, 1.0, grad);
        svi_guide_add_entropy_grad(g, grad);
    }
    return lp + svi_guide_entropy(g);
}

static void test_guide_algebra(void)
{
    static const double mean[3] = {0.5, -1, 2};
    static const double prec[9] = {2.0, 0.6, -0.3, 0.6, 1.5, 0.4, -0.3, 0.4, 1.0};
    Gauss gt = {3, mean, prec, 0};
    SamplerTarget t = {3, gauss_logp, &gt};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    SviForm forms[4] = {SVI_FORM_POINT, SVI_FORM_DIAG, SVI_FORM_TRIL, SVI_FORM_LOWRANK};
    for (int f = 0; f < 4; f++) {
        SviGuide g;
        CHECK(svi_guide_init(&g, forms[f], 3, 2) == 0, "guide init");
        gsl_rng_set(rng, 7);
        svi_guide_reset(&g, NULL, 0.5, rng);
        for (int k = 0; k < g.nparams; k++) /* a generic point: no zeros, no symmetry */
            g.theta[k] += 0.3 * sin(1.7 * k + f);
        double grad[32], up, dn, worst = 0;
        fixed_elbo(&g, &t, rng, grad);
        for (int k = 0; k < g.nparams; k++) {
            double keep = g.theta[k], h = 1e-6;
            g.theta[k] = keep + h;
            up = fixed_elbo(&g, &t, rng, NULL);
            g.theta[k] = keep - h;
            dn = fixed_elbo(&g, &t, rng, NULL);
            g.theta[k] = keep;
            double err = fabs((up - dn) / (2 * h) - grad[k]) / fmax(1, fabs(grad[k]));
            if (err > worst)
                worst = err;
        }
        CHECK(worst < 1e-6, "%s guide: ELBO gradient vs central differences, worst rel. error %g",
              svi_form_name(forms[f]), worst);
        svi_guide_prepare(&g);
        if (forms[f] != SVI_FORM_POINT) {
            /* log q and the entropy against a dense computation */
            double cov[9], z[3], ent;
            guide_cov(&g, cov);
            for (int rep = 0; rep < 3; rep++) {
                svi_guide_sample(&g, rng, z);
                double want = dense_log_normal(3, g.theta, cov, z, &ent);
                CHECK_NEAR(svi_guide_log_q(&g, z), want, 1e-10);
                CHECK_NEAR(svi_guide_log_q_draw(&g, z), want, 1e-10);
            }
            CHECK_NEAR(svi_guide_entropy(&g), ent, 1e-10);
            for (int i = 0; i < 3; i++)
                CHECK_NEAR(svi_guide_marginal_sd(&g, i), sqrt(cov[i * 3 + i]), 1e-12);
        }
        svi_guide_free(&g);
    }
    /* the draws of a full-rank guide have its covariance (4 standard errors) */
    SviGuide g;
    svi_guide_init(&g, SVI_FORM_TRIL, 3, 0);
    gsl_rng_set(rng, 3);
    svi_guide_reset(&g, mean, 1.0, rng);
    for (int k = 6; k < g.nparams; k++)
        g.theta[k] = 0.5 + 0.2 * k;
    svi_guide_prepare(&g);
    double cov[9], acc[9] = {0}, z[3];
    guide_cov(&g, cov);
    int n = 200000;
    for (int it = 0; it < n; it++) {
        svi_guide_sample(&g, rng, z);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                acc[i * 3 + j] += (z[i] - mean[i]) * (z[j] - mean[j]) / n;
    }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            double se = sqrt((cov[i * 3 + i] * cov[j * 3 + j] + cov[i * 3 + j] * cov[i * 3 + j]) / n);
            CHECK_NEAR(acc[i * 3 + j], cov[i * 3 + j], 4 * se);
        }
    svi_guide_free(&g);
    gsl_rng_free(rng);
}

/* ---- optimisers -------------------------------------------------------------- */

static void test_optimisers(void)
{
    SviOptim o;
    double th[2] = {0, 0}, g[2];
    /* Adam's first step is lr in the gradient's direction, whatever its size */
    svi_optim_init(&o, SVI_ADAM, 2, 0.1, 1);
    g[0] = 1e6;
    g[1] = -1e-3;
    svi_optim_step(&o, th, g);
    CHECK_NEAR(th[0], 0.1, 1e-6);
    CHECK_NEAR(th[1], -0.1, 1e-5);
    svi_optim_free(&o);
    /* clipped Adam: the gradient is scaled to norm 10 before the moments */
    svi_optim_init(&o, SVI_CLIPPED_ADAM, 2, 0.1, 1);
    g[0] = 300;
    g[1] = 400;
    svi_optim_step(&o, th, g);
    CHECK_NEAR(g[0], 6, 1e-12);
    CHECK_NEAR(g[1], 8, 1e-12);
    CHECK_NEAR(o.m[1], 0.8, 1e-12);
    g[0] = 3;
    g[1] = 4; /* short gradients pass unchanged */
    svi_optim_step(&o, th, g);
    CHECK_NEAR(g[1], 4, 0);
    svi_optim_free(&o);
    /* SGD with momentum 0.9 and decay: v = 0.9 v + g, theta += lr_t v */
    th[0] = th[1] = 0;
    svi_optim_init(&o, SVI_SGD, 2, 0.5, 0.5);
    g[0] = 1;
    g[1] = 2;
    svi_optim_step(&o, th, g);
    svi_optim_step(&o, th, g);
    CHECK_NEAR(th[0], 0.5 * 1 + 0.25 * 1.9, 1e-12);
    CHECK_NEAR(o.lr_now, 0.25, 1e-15);
    svi_optim_free(&o);
}

/* ---- fits on C targets ---------------------------------------------------------- */

static SviOptions fit_options(SviGuideKind k, int rank)
{
    SviOptions s;
    svi_options_default(&s);
    s.guide = k;
    s.rank = rank;
    s.lr_decay = 0.999;
    s.particles = 10;
    s.tol = 0;
    return s;
}

static int fit(const SamplerTarget *t, SviGuide *g, const SviOptions *s, unsigned long seed,
               SviResult *res)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double q[8], gr[8];
    svi_guide_init(g, svi_guide_form(s->guide), t->dim, s->rank);
    int rc = svi_find_init(t, rng, 2, q, gr);
    svi_guide_reset(g, q, s->init_scale, rng);
    rc |= svi_fit(t, g, s, rng, NULL, NULL, NULL, res);
    gsl_rng_free(rng);
    return rc;
}

static void test_fits_on_gaussians(void)
{
    static const double mean[3] = {0.5, -1, 2};
    static const double prec[9] = {2.0, 0.6, -0.3, 0.6, 1.5, 0.4, -0.3, 0.4, 1.0};
    /* P^-1, computed once with GSL */
    double sigma[9];
    memcpy(sigma, prec, sizeof sigma);
    gsl_matrix_view sv = gsl_matrix_view_array(sigma, 3, 3);
    gsl_linalg_cholesky_decomp1(&sv.matrix);
    gsl_linalg_cholesky_invert(&sv.matrix);
    Gauss gt = {3, mean, prec, 0};
    SamplerTarget t = {3, gauss_logp, &gt};
    SviGuide g;
    SviResult res;
    double cov[9];

    /* full rank: exact.  The optimiser's jitter at these settings, measured
     * over seeds, is under 1% of each sd; 3% of sd_i sd_j for covariances. */
    SviOptions s = fit_options(SVI_MVN, 0);
    CHECK(fit(&t, &g, &s, 1, &res) == 0, "mvn fit");
    guide_cov(&g, cov);
    for (int i = 0; i < 3; i++) {
        double sd = sqrt(sigma[i * 3 + i]);
        CHECK_NEAR(g.theta[i], mean[i], 0.03 * sd);
        for (int j = 0; j < 3; j++)
            CHECK_NEAR(cov[i * 3 + j], sigma[i * 3 + j], 0.03 * sd * sqrt(sigma[j * 3 + j]));
    }
    svi_guide_free(&g);

    /* mean field: mean exact, variances 1 / P_ii (the reverse-KL optimum) */
    s = fit_options(SVI_NORMAL, 0);
    CHECK(fit(&t, &g, &s, 2, &res) == 0, "normal fit");
    for (int i = 0; i < 3; i++) {
        double sd = 1 / sqrt(prec[i * 3 + i]);
        CHECK_NEAR(g.theta[i], mean[i], 0.03 * sd);
        CHECK_NEAR(g.scale[i], sd, 0.02 * sd);
    }
    svi_guide_free(&g);

    /* the other optimisers reach the same full-rank answer, less tightly */
    SviOptimKind ok[2] = {SVI_CLIPPED_ADAM, SVI_SGD};
    for (int k = 0; k < 2; k++) {
        s = fit_options(SVI_MVN, 0);
        s.optim = ok[k];
        if (ok[k] == SVI_SGD)
            s.lr = 0.002;
        CHECK(fit(&t, &g, &s, 3, &res) == 0, "%s fit", svi_optim_name(ok[k]));
        guide_cov(&g, cov);
        for (int i = 0; i < 3; i++) {
            double sd = sqrt(sigma[i * 3 + i]);
            CHECK(fabs(g.theta[i] - mean[i]) < 0.05 * sd, "%s: loc[%d] %g vs %g",
                  svi_optim_name(ok[k]), i, g.theta[i], mean[i]);
            CHECK(fabs(sqrt(cov[i * 3 + i]) - sd) < 0.05 * sd, "%s: sd[%d] %g vs %g",
                  svi_optim_name(ok[k]), i, sqrt(cov[i * 3 + i]), sd);
        }
        svi_guide_free(&g);
    }

    /* the convergence rule fires where the guide can match the target:
     * the ELBO estimate's variance then vanishes.  This target's ELBO is
     * about 2.4, so the rule is absolute there: changes below 1e-3. */
    s = fit_options(SVI_MVN, 0);
    s.tol = 1e-3;
    s.steps = 20000;
    CHECK(fit(&t, &g, &s, 4, &res) == 0, "mvn fit with tol");
    CHECK(res.converged && res.steps < 20000 && res.steps >= 3 * SVI_WINDOW - 1 &&
              res.rel_change < 1e-3,
          "converged %d after %d steps (rel %g)", res.converged, res.steps, res.rel_change);
    svi_guide_free(&g);
    /* and never with tol 0 */
    s.tol = 0;
    s.steps = 1000;
    CHECK(fit(&t, &g, &s, 4, &res) == 0 && !res.converged && res.steps == 1000, "tol 0");
    svi_guide_free(&g);

    /* delta: the optimiser and the BFGS polish find the mode */
    s = fit_options(SVI_DELTA, 0);
    s.particles = 1;
    CHECK(fit(&t, &g, &s, 5, &res) == 0, "delta fit");
    double lp0, lp1;
    int conv;
    svi_polish_mode(&t, g.theta, 500, &lp0, &lp1, &conv);
    CHECK(conv, "the polish reaches the mode");
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(g.theta[i], mean[i], 1e-7);
    CHECK(lp1 >= lp0, "the polish never loses ground");

    /* laplace: the covariance is P^-1 (finite differences of an exact gradient) */
    SviGuide lg;
    int bad;
    svi_guide_init(&lg, SVI_FORM_TRIL, 3, 0);
    CHECK(svi_laplace(&t, g.theta, &lg, &bad) == SVI_OK, "laplace");
    guide_cov(&lg, cov);
    for (int i = 0; i < 9; i++)
        CHECK_NEAR(cov[i], sigma[i], 1e-7);
    svi_guide_free(&lg);
    svi_guide_free(&g);

    /* a saddle: no Laplace approximation, and the coordinate is named */
    static const double saddle[4] = {1, 0, 0, -1};
    static const double zero2[2] = {0, 0};
    Gauss st = {2, zero2, saddle, 0};
    SamplerTarget ts = {2, gauss_logp, &st};
    svi_guide_init(&lg, SVI_FORM_TRIL, 2, 0);
    CHECK(svi_laplace(&ts, zero2, &lg, &bad) == SVI_NOT_PD && bad == 1, "saddle: not p.d. (%d)", bad);
    svi_guide_free(&lg);
}

/* an unbounded density: log p = 3 v - theta^2 / 2 grows without bound as
 * v -> inf, so there is no mode to start at */
static double unbounded_logp(void *ctx, const double *q, double *g)
{
    (void)ctx;
    g[0] = 3;
    g[1] = -q[1];
    return 3 * q[0] - 0.5 * q[1] * q[1];
}

/* the default start: the mode, with the curvature's scales */
static void test_mode_start(void)
{
    static const double mean[3] = {0.5, -1, 2};
    static const double prec[9] = {2.0, 0.6, -0.3, 0.6, 1.5, 0.4, -0.3, 0.4, 1.0};
    double sigma[9];
    memcpy(sigma, prec, sizeof sigma);
    gsl_matrix_view sv = gsl_matrix_view_array(sigma, 3, 3);
    gsl_linalg_cholesky_decomp1(&sv.matrix);
    gsl_linalg_cholesky_invert(&sv.matrix);
    Gauss gt = {3, mean, prec, 0};
    SamplerTarget t = {3, gauss_logp, &gt};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 1);
    const double zero[3] = {0, 0, 0};
    double lp, cov[9];
    SviGuide g;
    /* mean field: loc = mode, scale_i = 1 / sqrt(P_ii), loc steps in those widths */
    svi_guide_init(&g, SVI_FORM_DIAG, 3, 0);
    CHECK(svi_init_at_mode(&t, &g, zero, 0.1, rng, &lp) == 1, "mode start used");
    CHECK_NEAR(lp, 0, 1e-12);
    for (int i = 0; i < 3; i++) {
        CHECK_NEAR(g.theta[i], mean[i], 1e-6);
        CHECK_NEAR(g.scale[i], 1 / sqrt(prec[i * 3 + i]), 1e-6);
        CHECK(g.loc_step && fabs(g.loc_step[i] - g.scale[i]) < 1e-12, "loc step = width");
    }
    svi_guide_free(&g);
    /* full rank: the whole Laplace approximation, exact for a Gaussian */
    svi_guide_init(&g, SVI_FORM_TRIL, 3, 0);
    CHECK(svi_init_at_mode(&t, &g, zero, 0.1, rng, &lp) == 1, "mode start used (mvn)");
    guide_cov(&g, cov);
    for (int i = 0; i < 9; i++)
        CHECK_NEAR(cov[i], sigma[i], 1e-6);
    svi_guide_free(&g);
    /* low rank: marginal widths from the curvature */
    svi_guide_init(&g, SVI_FORM_LOWRANK, 3, 1);
    CHECK(svi_init_at_mode(&t, &g, zero, 0.1, rng, &lp) == 1, "mode start used (lowrank)");
    for (int i = 0; i < 3; i++)
        CHECK_NEAR(svi_guide_marginal_sd(&g, i), 1 / sqrt(prec[i * 3 + i]), 1e-6);
    svi_guide_free(&g);
    /* no mode: the start is kept, with the initial scale */
    SamplerTarget tu = {2, unbounded_logp, NULL};
    const double start[2] = {0.25, 0.5};
    svi_guide_init(&g, SVI_FORM_DIAG, 2, 0);
    CHECK(svi_init_at_mode(&tu, &g, start, 0.1, rng, &lp) == 0 && isnan(lp), "no mode: kept");
    CHECK(g.theta[0] == 0.25 && g.theta[1] == 0.5 && fabs(g.scale[0] - 0.1) < 1e-15 && !g.loc_step,
          "no mode: the start and initial scale");
    svi_guide_free(&g);
    gsl_rng_free(rng);
}

/* low rank: a target whose covariance is rank one plus diagonal is matched */
static void test_lowrank_fit(void)
{
    enum { D = 4 };
    static const double v[D] = {1.0, 0.8, -0.6, 0.5}, dg[D] = {0.3, 0.5, 0.4, 0.6};
    static const double mean[D] = {1, 0, -1, 2};
    double sigma[D * D], prec[D * D];
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++)
            sigma[i * D + j] = v[i] * v[j] + (i == j ? dg[i] * dg[i] : 0);
    memcpy(prec, sigma, sizeof prec);
    gsl_matrix_view pv = gsl_matrix_view_array(prec, D, D);
    gsl_linalg_cholesky_decomp1(&pv.matrix);
    gsl_linalg_cholesky_invert(&pv.matrix);
    Gauss gt = {D, mean, prec, 0};
    SamplerTarget t = {D, gauss_logp, &gt};
    SviOptions s = fit_options(SVI_LOWRANK, 1);
    SviGuide g;
    SviResult res;
    CHECK(fit(&t, &g, &s, 6, &res) == 0, "lowrank fit");
    double cov[D * D];
    guide_cov(&g, cov);
    for (int i = 0; i < D; i++) {
        double sd = sqrt(sigma[i * D + i]);
        CHECK_NEAR(g.theta[i], mean[i], 0.03 * sd);
        for (int j = 0; j < D; j++)
            CHECK_NEAR(cov[i * D + j], sigma[i * D + j], 0.04 * sd * sqrt(sigma[j * D + j]));
    }
    svi_guide_free(&g);
}

/* ---- cm models ------------------------------------------------------------------ */

typedef struct {
    Source src;
    Program *prog;
    DataSet data;
} CmModel;

static int load_model(CmModel *cm, const char *name)
{
    char path[256], json[256], err[1024];
    const char *dirs[] = {"examples/svi", "../examples/svi", "../../examples/svi"};
    memset(cm, 0, sizeof *cm);
    data_init(&cm->data);
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/%s.cm", dirs[k], name);
        snprintf(json, sizeof json, "%s/%s.json", dirs[k], name);
        if (access(path, R_OK) == 0)
            break;
    }
    if (source_read(&cm->src, path) != 0) {
        fprintf(stderr, "cannot read %s (run from the repository root)\n", path);
        return -1;
    }
    Diag diag;
    diag_init(&diag, &cm->src);
    cm->prog = cm_compile(&cm->src, &diag);
    if (!cm->prog)
        return -1;
    if (access(json, R_OK) == 0 && data_load_file(&cm->data, json, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static void free_model(CmModel *cm)
{
    if (cm->prog)
        program_free(cm->prog);
    data_free(&cm->data);
    source_free(&cm->src);
}

static double data_sum(const CmModel *cm, const char *name, int *n)
{
    const DataVar *v = data_find(&cm->data, name);
    double s = 0;
    for (size_t i = 0; i < v->n; i++)
        s += v->x[i];
    *n = (int)v->n;
    return s;
}

/* Fit a cm model with the engine's pieces; the guide is left in g. */
static int fit_model(CmModel *cm, SviGuideKind kind, const SviOptions *s, SviGuide *g, Model *m)
{
    if (model_init(m, cm->prog, &cm->data, NULL, 1) != 0)
        return -1;
    SamplerTarget t = {m->dim, model_logp_grad, m};
    SviResult res;
    SviOptions so = *s;
    so.guide = kind;
    return fit(&t, g, &so, 11, &res);
}

/* E[sigmoid(x)] and sd for x ~ N(m, s^2), by 100-point Gauss-Hermite */
static void logit_normal_moments(double m, double s, double *mean, double *sd)
{
    gsl_integration_fixed_workspace *w =
        gsl_integration_fixed_alloc(gsl_integration_fixed_hermite, 100, 0, 1, 0, 0);
    double e1 = 0, e2 = 0;
    for (size_t i = 0; i < 100; i++) {
        double p = 1 / (1 + exp(-(m + M_SQRT2 * s * w->x[i])));
        e1 += w->weights[i] * p / sqrt(M_PI);
        e2 += w->weights[i] * p * p / sqrt(M_PI);
    }
    gsl_integration_fixed_free(w);
    *mean = e1;
    *sd = sqrt(e2 - e1 * e1);
}

static void test_conjugate_models(void)
{
    CmModel nm, bb;
    if (load_model(&nm, "normal_mean") != 0 || load_model(&bb, "beta_bernoulli") != 0) {
        CHECK(0, "examples/svi models load");
        return;
    }
    int n;
    double sy = data_sum(&nm, "y", &n);
    double post_prec = n + 1 / 100.0, post_mean = sy / post_prec, post_sd = 1 / sqrt(post_prec);
    SviOptions s = fit_options(SVI_MVN, 0);
    SviGuide g;
    Model m;

    /* normal mean, full rank: mean and sd within 2% */
    CHECK(fit_model(&nm, SVI_MVN, &s, &g, &m) == 0, "normal_mean mvn fit");
    CHECK(fabs(g.theta[0] - post_mean) < 0.02 * fabs(post_mean), "normal_mean: mean %g vs %g",
          g.theta[0], post_mean);
    CHECK(fabs(g.scale[0] - post_sd) < 0.02 * post_sd, "normal_mean: sd %g vs %g", g.scale[0],
          post_sd);
    printf("normal_mean mvn: mean %.5f (exact %.5f, %+.2f%%), sd %.5f (exact %.5f, %+.2f%%)\n",
           g.theta[0], post_mean, 100 * (g.theta[0] / post_mean - 1), g.scale[0], post_sd,
           100 * (g.scale[0] / post_sd - 1));
    svi_guide_free(&g);
    model_free(&m);

    /* delta: the MAP; laplace: the exact curvature of a Gaussian posterior */
    SviOptions sd1 = s;
    sd1.particles = 1;
    CHECK(fit_model(&nm, SVI_DELTA, &sd1, &g, &m) == 0, "normal_mean delta fit");
    SamplerTarget t = {m.dim, model_logp_grad, &m};
    double lp0, lp1;
    int conv;
    svi_polish_mode(&t, g.theta, 500, &lp0, &lp1, &conv);
    CHECK_NEAR(g.theta[0], post_mean, 1e-7);
    SviGuide lg;
    int bad;
    svi_guide_init(&lg, SVI_FORM_TRIL, 1, 0);
    CHECK(svi_laplace(&t, g.theta, &lg, &bad) == SVI_OK, "normal_mean laplace");
    CHECK_NEAR(lg.scale[0], post_sd, 1e-6 * post_sd);
    svi_guide_free(&lg);
    svi_guide_free(&g);
    model_free(&m);

    /* Beta-Bernoulli: exact posterior Beta(2 + k, 2 + N - k) */
    double k = data_sum(&bb, "y", &n), a = 2 + k, b = 2 + n - k;
    double beta_mean = a / (a + b), beta_sd = sqrt(a * b / ((a + b) * (a + b) * (a + b + 1)));
    CHECK(fit_model(&bb, SVI_MVN, &s, &g, &m) == 0, "beta_bernoulli mvn fit");
    double qm, qsd;
    logit_normal_moments(g.theta[0], g.scale[0], &qm, &qsd);
    CHECK(fabs(qm - beta_mean) < 0.02 * beta_mean, "beta_bernoulli: mean %g vs %g", qm, beta_mean);
    CHECK(fabs(qsd - beta_sd) < 0.02 * beta_sd, "beta_bernoulli: sd %g vs %g", qsd, beta_sd);
    printf("beta_bernoulli mvn: p mean %.5f (exact %.5f, %+.2f%%), sd %.5f (exact %.5f, %+.2f%%)\n",
           qm, beta_mean, 100 * (qm / beta_mean - 1), qsd, beta_sd, 100 * (qsd / beta_sd - 1));
    svi_guide_free(&g);
    model_free(&m);

    /* delta on the logit scale: the mode of p^a (1-p)^b (the log-Jacobian
     * p (1-p) included), i.e. p = a / (a + b) */
    CHECK(fit_model(&bb, SVI_DELTA, &sd1, &g, &m) == 0, "beta_bernoulli delta fit");
    t = (SamplerTarget){m.dim, model_logp_grad, &m};
    svi_polish_mode(&t, g.theta, 500, &lp0, &lp1, &conv);
    CHECK_NEAR(g.theta[0], log(a / b), 1e-7);
    svi_guide_free(&g);
    model_free(&m);
    free_model(&nm);
    free_model(&bb);
}

/* ---- the engine: output, determinism, parameter files, errors ------------------ */

/* run infer_svi with stdout to /dev/null and stderr into err_path */
static int run_engine(const InferOptions *o, const SviOptions *s, const char *err_path)
{
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int dn = open("/dev/null", O_WRONLY), ef = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(dn, 1);
    dup2(ef, 2);
    close(dn);
    close(ef);
    int rc = infer_svi(o, s);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = calloc((size_t)n + 1, 1);
    if (fread(b, 1, (size_t)n, f) != (size_t)n)
        b[0] = 0;
    fclose(f);
    return b;
}

/* the rows of a CSV (the lines not starting with '#') */
static char *csv_rows(const char *path)
{
    char *all = slurp(path);
    if (!all)
        return NULL;
    char *out = calloc(strlen(all) + 1, 1), *w = out;
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] != '#')
            w += sprintf(w, "%s\n", line);
    free(all);
    return out;
}

static int file_has(const char *path, const char *text)
{
    char *s = slurp(path);
    int yes = s && strstr(s, text) != NULL;
    free(s);
    return yes;
}

/* column stats of a CmdStan CSV written by the engine, skipping the mean row */
static void csv_column(const char *path, int col, double *mean, double *sd, int *n)
{
    char *rows = csv_rows(path);
    double s = 0, s2 = 0;
    int k = 0, line = 0;
    for (char *l = strtok(rows, "\n"); l; l = strtok(NULL, "\n"), line++) {
        if (line < 2)
            continue; /* the header and the guide's mean */
        char *p = l;
        for (int c = 0; c < col; c++)
            p = strchr(p, ',') + 1;
        double x = atof(p);
        s += x;
        s2 += x * x;
        k++;
    }
    *mean = s / k;
    *sd = sqrt(s2 / k - *mean * *mean);
    *n = k;
    free(rows);
}

static void test_engine(void)
{
    CmModel bb;
    if (load_model(&bb, "beta_bernoulli") != 0) {
        CHECK(0, "beta_bernoulli loads");
        return;
    }
    char dir[] = "/tmp/test_svi_XXXXXX";
    CHECK(mkdtemp(dir) != NULL, "temporary folder");
    char out1[128], out2[128], par[128], par2[128], elbo[128], errf[128];
    snprintf(out1, sizeof out1, "%s/a.csv", dir);
    snprintf(out2, sizeof out2, "%s/b.csv", dir);
    snprintf(par, sizeof par, "%s/p.json", dir);
    snprintf(par2, sizeof par2, "%s/p2.json", dir);
    snprintf(elbo, sizeof elbo, "%s/elbo.csv", dir);
    snprintf(errf, sizeof errf, "%s/err.txt", dir);

    InferOptions o;
    memset(&o, 0, sizeof o);
    sampler_config_default(&o.cfg);
    o.prog = bb.prog;
    o.data = &bb.data;
    o.model_name = "beta_bernoulli";
    o.data_file = "beta_bernoulli.json";
    o.seed = 5;
    o.output = out1;
    SviOptions s;
    svi_options_default(&s);
    s.guide = SVI_MVN;
    s.lr_decay = 0.999;
    s.particles = 10;
    s.samples = 20000;
    s.params_out = par;
    s.elbo_out = elbo;
    CHECK(run_engine(&o, &s, errf) == 0, "engine run");
    o.output = out2;
    s.params_out = par2;
    s.elbo_out = NULL;
    CHECK(run_engine(&o, &s, errf) == 0, "engine run again");
    char *r1 = csv_rows(out1), *r2 = csv_rows(out2);
    CHECK(r1 && r2 && strcmp(r1, r2) == 0, "the same seed gives the same draws");
    CHECK(r1 && strncmp(r1, "lp__,log_q__,p\n", 15) == 0, "CSV columns lp__, log_q__, p");
    free(r1);
    free(r2);
    CHECK(file_has(out1, "# method = variational"), "method = variational");
    char *e = slurp(elbo);
    CHECK(e && strncmp(e, "step,elbo,smoothed_elbo\n1,", 26) == 0, "ELBO trace header");
    free(e);

    /* the draws match the fitted guide's logit-normal moments (4 se) */
    char *pj = slurp(par);
    double loc = NAN, sc = NAN;
    if (pj) {
        char *l = strstr(pj, "\"loc\": [");
        char *t = strstr(pj, "\"scale_tril\": [");
        if (l)
            loc = atof(l + 8);
        if (t)
            sc = atof(strchr(t + 15, '[') + 1);
    }
    free(pj);
    double qm, qsd, dm, dsd;
    int n;
    logit_normal_moments(loc, sc, &qm, &qsd);
    csv_column(out1, 2, &dm, &dsd, &n);
    CHECK(n == 20000, "20000 draws after the mean row (got %d)", n);
    CHECK_NEAR(dm, qm, 4 * qsd / sqrt(n));
    CHECK_NEAR(dsd, qsd, 4 * qsd / sqrt(2.0 * n));

    /* --init-params: the saved guide comes back exactly (0 steps) */
    s.init_params = par;
    s.params_out = par2;
    s.steps = 0;
    CHECK(run_engine(&o, &s, errf) == 0, "engine from --init-params");
    char *p1 = slurp(par), *p2 = slurp(par2);
    char *l1 = p1 ? strstr(p1, "\"loc\"") : NULL, *l2 = p2 ? strstr(p2, "\"loc\"") : NULL;
    CHECK(l1 && l2 && strcmp(l1, l2) == 0, "reloaded guide parameters are identical");
    free(p1);
    free(p2);

    /* errors: each names the flag at fault, exit 2, no output file */
    o.output = out2;
    remove(out2);
    s.guide = SVI_NORMAL;
    CHECK(run_engine(&o, &s, errf) == 2, "guide kind mismatch");
    CHECK(file_has(errf, "--init-params") && file_has(errf, "'mvn' guide"), "names the kinds");
    CHECK(access(out2, F_OK) != 0, "no output after an error");
    s.init_params = NULL;
    s.steps = 100;
    s.guide = SVI_LOWRANK;
    s.rank = 2;
    CHECK(run_engine(&o, &s, errf) == 2, "lowrank rank > dim");
    CHECK(file_has(errf, "--guide lowrank:2"), "names --guide");
    CHECK(access(out2, F_OK) != 0, "no output after an error");

    /* --init-params from a model of another dimension */
    CmModel nm;
    if (load_model(&nm, "normal_mean") == 0) {
        char two[160];
        snprintf(two, sizeof two, "%s/two.json", dir);
        FILE *f = fopen(two, "w");
        fputs("{\"guide\": \"mvn\", \"dim\": 2, \"loc\": [0, 0]}", f);
        fclose(f);
        s.guide = SVI_MVN;
        s.init_params = two;
        o.prog = nm.prog;
        o.data = &nm.data;
        CHECK(run_engine(&o, &s, errf) == 2, "dimension mismatch");
        CHECK(file_has(errf, "dimension 2") && file_has(errf, "dimension is 1"), "names both dims");
        f = fopen(two, "w");
        fputs("{\"guide\": \"mvn\", \"dim\": 1,, }", f);
        fclose(f);
        CHECK(run_engine(&o, &s, errf) == 2, "malformed JSON");
        CHECK(file_has(errf, "two.json:1:"), "located JSON error");
        s.init_params = NULL;
        free_model(&nm);
    }

    /* a model without latent continuous sites */
    Source src = {"nolatent.cm", "data y: real\ny ~ Normal(0, 1)\n", 0};
    src.len = strlen(src.text);
    Diag diag;
    diag_init(&diag, &src);
    Program *p = cm_compile(&src, &diag);
    DataSet d;
    data_init(&d);
    char err[256];
    data_set_from_arg(&d, "y=1.5", "--set", err, sizeof err);
    if (p) {
        o.prog = p;
        o.data = &d;
        CHECK(run_engine(&o, &s, errf) == 2, "no latent sites");
        CHECK(file_has(errf, "no latent continuous sites"), "says so");
        program_free(p);
    }
    data_free(&d);

    remove(out1);
    remove(out2);
    remove(par);
    remove(par2);
    remove(elbo);
    remove(errf);
    char two[160];
    snprintf(two, sizeof two, "%s/two.json", dir);
    remove(two);
    rmdir(dir);
    free_model(&bb);
}

static void test_flags(void)
{
    SviOptions s;
    char err[512];
    svi_options_default(&s);
    CHECK(svi_parse_flag(&s, "--data", "x.json", err, sizeof err) == 0, "not an SVI flag");
    CHECK(s.flag_seen == NULL, "no SVI flag seen");
    CHECK(svi_parse_flag(&s, "--guide", "lowrank:3", err, sizeof err) == 1 && s.guide == SVI_LOWRANK &&
              s.rank == 3, "lowrank:3");
    CHECK(s.flag_seen && strcmp(s.flag_seen, "--guide") == 0, "flag remembered");
    CHECK(svi_parse_flag(&s, "--guide", "lowrank", err, sizeof err) == -1 && strstr(err, "lowrank:R"),
          "lowrank without R: %s", err);
    CHECK(svi_parse_flag(&s, "--guide", "lowrank:0", err, sizeof err) == -1, "lowrank:0");
    CHECK(svi_parse_flag(&s, "--guide", "lowrank:x", err, sizeof err) == -1, "lowrank:x");
    CHECK(svi_parse_flag(&s, "--guide", "meanfield", err, sizeof err) == -1 &&
              strstr(err, "--guide must be one of"), "bad guide: %s", err);
    CHECK(svi_parse_flag(&s, "--optim", "rmsprop", err, sizeof err) == -1 && strstr(err, "--optim"),
          "bad optimiser");
    CHECK(svi_parse_flag(&s, "--optim", "clipped-adam", err, sizeof err) == 1 &&
              s.optim == SVI_CLIPPED_ADAM, "clipped-adam");
    CHECK(svi_parse_flag(&s, "--lr", "-1", err, sizeof err) == -1 && strstr(err, "--lr"), "lr < 0");
    CHECK(svi_parse_flag(&s, "--lr", "0", err, sizeof err) == -1, "lr = 0");
    CHECK(svi_parse_flag(&s, "--lr-decay", "1.5", err, sizeof err) == -1, "decay > 1");
    CHECK(svi_parse_flag(&s, "--particles", "2.5", err, sizeof err) == -1, "particles 2.5");
    CHECK(svi_parse_flag(&s, "--particles", "4", err, sizeof err) == 1 && s.particles == 4,
          "particles");
    CHECK(svi_parse_flag(&s, "--tol", "abc", err, sizeof err) == -1, "tol abc");
    CHECK(svi_parse_flag(&s, "--tol", NULL, err, sizeof err) == -1 && strstr(err, "needs a value"),
          "missing value");
    s.guide = SVI_LOWRANK;
    s.rank = 5;
    CHECK(svi_options_check(&s, 3, err, sizeof err) == -1 && strstr(err, "lowrank:5"),
          "rank > dim: %s", err);
    s.rank = 3;
    CHECK(svi_options_check(&s, 3, err, sizeof err) == 0, "rank = dim");
}

int main(void)
{
    gsl_set_error_handler_off();
    test_flags();
    test_guide_algebra();
    test_optimisers();
    test_fits_on_gaussians();
    test_mode_start();
    test_lowrank_fit();
    test_conjugate_models();
    test_engine();
    return check_done();
}
