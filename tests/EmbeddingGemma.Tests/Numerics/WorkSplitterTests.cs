using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Tests.Numerics;

/// <summary>The engine's parallel regions: every item exactly once, errors surface, nesting and concurrent callers work.</summary>
public class WorkSplitterTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 2)]
    [InlineData(1000, 3)]
    [InlineData(5, 8)]
    public void Every_item_runs_exactly_once(int count, int threads)
    {
        for (var round = 0; round < 200; round++)
        {
            var hits = new int[count];
            WorkSplitter.For(count, threads, (s, e) =>
            {
                for (var i = s; i < e; i++)
                {
                    Interlocked.Increment(ref hits[i]);
                }
            });
            Assert.All(hits, h => Assert.Equal(1, h));
        }
    }

    [Fact]
    public void An_exception_in_any_range_reaches_the_caller_and_the_pool_keeps_working()
    {
        var e = Assert.Throws<InvalidOperationException>(() => WorkSplitter.For(4, 2, (s, _) =>
        {
            if (s >= 2)
            {
                throw new InvalidOperationException("boom in the second range");
            }
        }));
        Assert.Contains("boom", e.Message, StringComparison.Ordinal);
        var sum = 0;
        WorkSplitter.For(10, 2, (s, en) => Interlocked.Add(ref sum, en - s));
        Assert.Equal(10, sum);
    }

    [Fact]
    public void Nested_regions_and_concurrent_callers_complete()
    {
        var total = 0L;
        Parallel.For(0, 8, _ =>
        {
            WorkSplitter.For(50, 2, (s, e) =>
            {
                for (var i = s; i < e; i++)
                {
                    WorkSplitter.For(4, 2, (a, b) => Interlocked.Add(ref total, b - a));
                }
            });
        });
        Assert.Equal(8L * 50 * 4, total);
    }
}
