using System.Diagnostics;
using EmbeddingGemma.Tokenization;
using Xunit.Abstractions;

namespace EmbeddingGemma.Tests.Tokenization;

/// <summary>Ids identical to Hugging Face's Rust tokenizers on the parity corpus.</summary>
public class ParityTests(ITestOutputHelper output)
{
    private const string ImageSoftToken = "<image_soft_token>";

    [Fact]
    public void Ids_match_hugging_face_on_the_whole_corpus()
    {
        var ours = Gemma3Tokenizers.Ours;
        var items = ParityCorpus.Items.Where(i => !i.Text.Contains(ImageSoftToken, StringComparison.Ordinal)).ToList();
        var mismatches = new List<string>();
        var matched = 0;
        long chars = 0;
        var sw = Stopwatch.StartNew();
        foreach (var item in items)
        {
            var expected = Gemma3Tokenizers.OracleIds(item.Text);
            var actual = ours.EncodeToIds(item.Text);
            chars += item.Text.Length;
            if (expected.AsSpan().SequenceEqual(actual))
            {
                matched++;
            }
            else if (mismatches.Count < 10)
            {
                mismatches.Add($"[{item.Source}] {Show(item.Text)}\n  expected {string.Join(",", expected.Take(40))}\n  actual   {string.Join(",", actual.Take(40))}");
            }
        }
        var bySource = items.GroupBy(i => i.Source.Split('/')[0]).Select(g => $"{g.Key}: {g.Count()}");
        output.WriteLine($"parity: {matched} of {items.Count} texts ({chars:N0} chars) give identical ids to HF tokenizers ({sw.Elapsed.TotalSeconds:F1} s)");
        output.WriteLine("sources: " + string.Join(", ", bySource));
        foreach (var m in mismatches)
        {
            output.WriteLine(m);
        }
        Assert.True(items.Count >= 2500, $"corpus too small: {items.Count}");
        Assert.True(mismatches.Count == 0, $"{items.Count - matched} of {items.Count} texts differ; first: {mismatches.FirstOrDefault()}");
    }

    internal static string Show(string s) => s.Length > 120 ? System.Text.Json.JsonSerializer.Serialize(s[..120]) + "…" : System.Text.Json.JsonSerializer.Serialize(s);
}
