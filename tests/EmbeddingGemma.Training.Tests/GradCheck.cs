namespace EmbeddingGemma.Training.Tests;

/// <summary>
/// fp64 central finite differences of fourth order per checked entry,
/// <c>fd = (8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))) / 12h</c> (truncation O(h⁴·f⁽⁵⁾), so the curvature of MNRL's scale
/// 20 or the embedding's ×27.7 does not swamp a 1e-7 bar; the two-point form's O(h²·f‴) did), compared with the
/// analytic gradient by <c>|fd − g| / max(|fd|, |g|, floor·max(1, |f(x)|))</c>. The floor is where round-off takes
/// over: with h = 1e-4 the difference carries ~1e-16·|f|/h ≈ 1e-12·|f| of noise, so entries below the floor are held
/// to an absolute error of tolerance·floor·max(1, |f|) instead. Each test states h, the tolerance and the floor.
/// </summary>
internal static class GradCheck
{
    public static double[] RandomArray(Random rng, int n, double scale = 1.0)
    {
        var a = new double[n];
        for (var i = 0; i < n; i++)
        {
            a[i] = scale * (2 * rng.NextDouble() - 1);
        }
        return a;
    }

    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        double s = 0;
        for (var i = 0; i < a.Length; i++)
        {
            s += a[i] * b[i];
        }
        return s;
    }

    /// <summary>Checks every entry (or <paramref name="indices"/>) of <paramref name="x"/>; returns the worst relative error.</summary>
    public static double Check(string name, Func<double> f, double[] x, ReadOnlySpan<double> analytic, double h, double tolerance, double floor,
        IEnumerable<int>? indices = null)
    {
        var scaledFloor = floor * Math.Max(1.0, Math.Abs(f()));
        var worst = 0.0;
        var worstAt = -1;
        double worstFd = 0, worstAn = 0;
        foreach (var i in indices ?? Enumerable.Range(0, x.Length))
        {
            var saved = x[i];
            x[i] = saved + h;
            var fp1 = f();
            x[i] = saved - h;
            var fm1 = f();
            x[i] = saved + 2 * h;
            var fp2 = f();
            x[i] = saved - 2 * h;
            var fm2 = f();
            x[i] = saved;
            var fd = (8 * (fp1 - fm1) - (fp2 - fm2)) / (12 * h);
            var err = Math.Abs(fd - analytic[i]) / Math.Max(Math.Max(Math.Abs(fd), Math.Abs(analytic[i])), scaledFloor);
            if (err > worst)
            {
                (worst, worstAt, worstFd, worstAn) = (err, i, fd, analytic[i]);
            }
        }
        Assert.True(worst <= tolerance,
            $"{name}: relative error {worst:E3} at [{worstAt}] (finite difference {worstFd:E10}, analytic {worstAn:E10}) exceeds {tolerance:E1}");
        return worst;
    }
}
