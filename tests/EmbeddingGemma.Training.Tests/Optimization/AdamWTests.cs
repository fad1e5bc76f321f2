using EmbeddingGemma.Training.Optimization;

namespace EmbeddingGemma.Training.Tests.Optimization;

/// <summary>AdamW against steps computed by hand from torch's update order, plus the checks that pin that order.</summary>
public class AdamWTests
{
    private static AdamW<double> Single(double p0, double wd, out double[] p, bool isNorm = false, bool decayNorms = false)
    {
        p = [p0];
        return new AdamW<double>([new OptimizerTensor<double>("w", p, isNorm)], new AdamWOptions { WeightDecay = wd, DecayNorms = decayNorms });
    }

    [Fact]
    public void Two_steps_equal_the_hand_computed_torch_order()
    {
        var opt = Single(1.0, 0.1, out var p);
        // step 1: lr 0.1, g 0.5
        opt.Step([[0.5]], 0.1);
        // p ← 1·(1 − 0.1·0.1) = 0.99; m = 0.1·0.5 = 0.05; v = 0.001·0.25 = 0.00025; bc1 = 0.1; bc2 = 0.001
        // p ← 0.99 − (0.1/0.1)·0.05 / (√0.00025/√0.001 + 1e-8) = 0.99 − 0.05/0.50000001
        var p1 = 0.99 - 0.05 / (Math.Sqrt(0.00025) / Math.Sqrt(0.001) + 1e-8);
        Assert.Equal(p1, p[0], 15);
        Assert.Equal(0.05, opt.FirstMoment(0)[0], 15);
        Assert.Equal(0.00025, opt.SecondMoment(0)[0], 15);
        // step 2: lr 0.05, g −0.25
        opt.Step([[-0.25]], 0.05);
        // p ← p1·(1 − 0.005); m = 0.05 + 0.1·(−0.25 − 0.05) = 0.02; v = 0.00025·0.999 + 0.001·0.0625 = 0.00031225
        // bc1 = 1 − 0.9² = 0.19; bc2 = 1 − 0.999² = 0.001999
        var p2 = p1 * (1 - 0.005) - 0.05 / 0.19 * 0.02 / (Math.Sqrt(0.00031225) / Math.Sqrt(0.001999) + 1e-8);
        Assert.Equal(p2, p[0], 14);
        Assert.Equal(2, opt.StepCount);
        // Decaying after the update instead would give (1 − 0.05/0.50000001)·0.99 at step 1: the test tells them apart.
        Assert.True(Math.Abs((1 - 0.05 / 0.50000001) * 0.99 - p1) > 1e-4);
    }

    [Fact]
    public void Epsilon_is_added_outside_the_square_root()
    {
        var opt = Single(0.0, 0.0, out var p);
        opt.Step([[1e-8]], 1.0);
        // m = 1e-9, v = 1e-19: denom = √1e-19/√0.001 + 1e-8 = 2e-8, step = (1/0.1)·1e-9/2e-8 = 0.5.
        // (eps inside the root would give √(1e-16 + 1e-8) ≈ 1e-4 and a step of 1e-4.)
        Assert.Equal(-0.5, p[0], 9);
    }

    [Fact]
    public void Norm_weights_are_not_decayed_unless_asked()
    {
        double[] matrix = [2.0, -4.0];
        double[] norm = [0.5];
        var opt = new AdamW<double>([new("layers.0.mlp.up_proj.weight", matrix, false), new("layers.0.input_layernorm.weight", norm, true)],
            new AdamWOptions { WeightDecay = 0.1 });
        opt.Step([[0.0, 0.0], [0.0]], 0.5);   // zero gradients: only the decay moves anything
        Assert.Equal([2.0 * 0.95, -4.0 * 0.95], matrix);
        Assert.Equal([0.5], norm);
        var all = Single(0.5, 0.1, out var n2, isNorm: true, decayNorms: true);
        all.Step([[0.0]], 0.5);
        Assert.Equal(0.5 * 0.95, n2[0], 15);
    }

    [Fact]
    public void Float_follows_the_double_steps()
    {
        var rng = new Random(3);
        var pd = GradCheck.RandomArray(rng, 17);
        var pf = Array.ConvertAll(pd, v => (float)v);
        pd = Array.ConvertAll(pf, v => (double)v);
        var od = new AdamW<double>([new("w", pd, false)]);
        var of = new AdamW<float>([new("w", pf, false)]);
        for (var s = 0; s < 10; s++)
        {
            var g = GradCheck.RandomArray(rng, 17);
            od.Step([g], 1e-2);
            of.Step([Array.ConvertAll(g, v => (float)v)], 1e-2);
        }
        for (var i = 0; i < pd.Length; i++)
        {
            Assert.True(Math.Abs(pd[i] - pf[i]) <= 1e-6 * Math.Max(1, Math.Abs(pd[i])), $"[{i}] double {pd[i]} float {pf[i]}");
        }
    }

    [Fact]
    public void Mismatched_gradients_are_refused()
    {
        var opt = Single(1.0, 0.0, out _);
        Assert.Throws<ArgumentException>(() => opt.Step([[1.0, 2.0]], 0.1));
        Assert.Throws<ArgumentException>(() => opt.Step([], 0.1));
    }
}

/// <summary>Schedules against the Hugging Face lambdas evaluated by hand; clipping against torch's clip_grad_norm_ formula.</summary>
public class ScheduleAndClippingTests
{
    [Fact]
    public void Linear_warmup_then_decay()
    {
        var s = new LearningRateSchedule(ScheduleKind.Linear, 2.0, WarmupSteps: 2, TotalSteps: 10);
        Assert.Equal([0.0, 1.0, 2.0, 1.75, 1.0, 0.0, 0.0], new[] { 0, 1, 2, 3, 6, 10, 12 }.Select(s.At));
    }

    [Fact]
    public void Cosine_warmup_then_half_cosine()
    {
        var s = new LearningRateSchedule(ScheduleKind.Cosine, 1.0, 2, 10);
        Assert.Equal(0.5, s.At(1), 15);
        Assert.Equal(1.0, s.At(2), 15);
        Assert.Equal(0.5, s.At(6), 15);                                  // progress ½: ½(1 + cos(π/2))
        Assert.Equal(0.5 * (1 + Math.Cos(Math.PI * 0.25)), s.At(4), 15); // progress ¼
        Assert.Equal(0.0, s.At(10), 15);
    }

    [Fact]
    public void Constant_schedules()
    {
        Assert.Equal(1e-5, new LearningRateSchedule(ScheduleKind.Constant, 1e-5, 5, 10).At(0));
        var w = new LearningRateSchedule(ScheduleKind.ConstantWithWarmup, 1.0, 4, 10);
        Assert.Equal([0.0, 0.25, 0.75, 1.0, 1.0], new[] { 0, 1, 3, 4, 9 }.Select(w.At));
        Assert.Equal(10, LearningRateSchedule.WarmupFromRatio(100, 0.1));
        Assert.Equal(3, LearningRateSchedule.WarmupFromRatio(25, 0.1));
    }

    [Fact]
    public void Clipping_scales_every_gradient_by_max_over_total_plus_1e6()
    {
        double[] a = [3.0, 4.0];
        double[] b = [12.0];
        var total = GradientClipping.ClipByGlobalNorm<double>([a, b], 1.0);
        Assert.Equal(13.0, total, 15);
        var c = 1.0 / (13.0 + 1e-6);
        Assert.Equal([3 * c, 4 * c], a);
        Assert.Equal([12 * c], b);
        float[] f = [0.3f, 0.4f];
        Assert.Equal(0.5, GradientClipping.ClipByGlobalNorm<float>([f], 1.0), 6);
        Assert.Equal([0.3f, 0.4f], f);   // coef clamped to 1
    }
}
