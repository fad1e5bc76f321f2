using System.Diagnostics;
using System.Text;
using EmbeddingGemma.Tokenization;
using Xunit.Abstractions;

namespace EmbeddingGemma.Tests.Tokenization;

/// <summary>
/// Encoding work grows linearly with the input, for any input: the steps counted by <see cref="WorkCounter"/>
/// (characters scanned, trie steps, BPE symbols, heap pops) for 4n characters stay within 3.5x..4.5x of those
/// for n. Each heap operation costs O(log n), so time is O(n log n) at worst: a factor of about 1.1 between n and
/// 4n here, not the quadratic blow-ups seen in other tokenizers (Ollama #12508, llama.cpp #8029). Wall-clock
/// ratios are printed for information, not asserted.
/// </summary>
public class LinearTimeTests(ITestOutputHelper output)
{
    public static TheoryData<string> Inputs() => new()
    {
        "spaces", "newlines", "tabs", "literal ▁", "no-merge word", "one letter", "two letters", "almost <bos>", "<bos>", "html", "mixed", "emoji",
    };

    private static string Make(string kind, int n)
    {
        var rng = new Random(5);
        string Repeat(string unit) => new StringBuilder(n + unit.Length).Insert(0, unit, (n / unit.Length) + 1).ToString(0, n);
        switch (kind)
        {
            case "spaces": return new string(' ', n);
            case "newlines": return new string('\n', n);
            case "tabs": return new string('\t', n);
            case "literal ▁": return new string('\u2581', n);
            case "one letter": return new string('a', n);
            case "two letters": return Repeat("ab");
            case "almost <bos>": return Repeat("<bos");
            case "<bos>": return Repeat("<bos>");
            case "html": return Repeat("<table><tr><td>x</td></tr></table>  ");
            case "emoji": return Repeat("👨‍👩‍👧‍👦");
            case "no-merge word":
            {
                var sb = new StringBuilder(n + 2);
                while (sb.Length < n)
                {
                    sb.Append(char.ConvertFromUtf32(0x20000 + rng.Next(0xA000)));
                }
                return sb.ToString(0, n - (char.IsHighSurrogate(sb[n - 1]) ? 1 : 0));
            }
            default:
            {
                string[] parts = [" ", "  ", "the", "\n", "▁", "<b", "é", "中", "😀", "x"];
                var sb = new StringBuilder(n + 4);
                while (sb.Length < n)
                {
                    sb.Append(parts[rng.Next(parts.Length)]);
                }
                return sb.ToString(0, n - (char.IsHighSurrogate(sb[n - 1]) ? 1 : 0));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Work_is_linear_in_the_input_length(string kind)
    {
        var t = Gemma3Tokenizers.Ours;
        const int N = 100_000;
        var small = Make(kind, N);
        var large = Make(kind, 4 * N);
        t.EncodeToIds(small); // warm up (JIT)
        WordCache.DisabledOnThisThread = true; // the uncached worst case (a cache hit never costs more than a miss)

        var (smallWork, smallTime) = Measure(t, small);
        var (largeWork, largeTime) = Measure(t, large);
        WordCache.DisabledOnThisThread = false;
        var ratio = (double)largeWork / smallWork;
        output.WriteLine($"{kind}: work {smallWork:N0} -> {largeWork:N0} (x{ratio:F2}), time {smallTime * 1000:F1} ms -> {largeTime * 1000:F1} ms (x{largeTime / smallTime:F2}), {t.CountTokens(large):N0} tokens");
        Assert.InRange(ratio, 3.5, 4.5);
        Assert.True(smallWork >= small.Length, "every character is counted at least once");
    }

    private static (long Work, double Seconds) Measure(GemmaTokenizer t, string text)
    {
        var before = WorkCounter.Steps;
        var sw = Stopwatch.StartNew();
        t.EncodeToIds(text);
        return (WorkCounter.Steps - before, sw.Elapsed.TotalSeconds);
    }
}
