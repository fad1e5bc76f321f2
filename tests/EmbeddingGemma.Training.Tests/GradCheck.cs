namespace EmbeddingGemma.Training.Tests;

/// <summary>
/// fp64 central finite differences: <c>fd = (f(x + h) − f(x − h)) / 2h</c> per checked entry, compared with the
/// analytic gradient by <c>|fd − g| / max(|fd|, |g|, floor)</c>. The floor keeps entries whose true gradient is ~0
/// from dividing round-off by round-off; each test states h, the tolerance and the floor.
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
        var worst = 0.0;
        var worstAt = -1;
        double worstFd = 0, worstAn = 0;
        foreach (var i in indices ?? Enumerable.Range(0, x.Length))
        {
            var saved = x[i];
            x[i] = saved + h;
            var fp = f();
            x[i] = saved - h;
            var fm = f();
            x[i] = saved;
            var fd = (fp - fm) / (2 * h);
            var err = Math.Abs(fd - analytic[i]) / Math.Max(Math.Max(Math.Abs(fd), Math.Abs(analytic[i])), floor);
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
