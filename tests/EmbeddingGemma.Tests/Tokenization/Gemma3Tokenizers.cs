using System.Text.Json.Nodes;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Tests.Tokenization;

/// <summary>The real Gemma 3 tokenizer (ours) and the Hugging Face oracle, each loaded once per test run.</summary>
internal static class Gemma3Tokenizers
{
    /// <summary>Ours, as EmbeddingGemma uses it: &lt;bos&gt; … &lt;eos&gt;.</summary>
    public static GemmaTokenizer Ours => OursLazy.Value;

    /// <summary>Hugging Face tokenizers (Rust, via Tokenizers.DotNet) with the post-processor patched to &lt;bos&gt; $A &lt;eos&gt;.</summary>
    public static Tokenizers.DotNet.Tokenizer Oracle => OracleLazy.Value;

    private static readonly Lazy<GemmaTokenizer> OursLazy = new(() =>
        GemmaTokenizer.FromFile(TestPaths.Gemma3TokenizerJson, new GemmaTokenizerOptions { AddBosToken = true, AddEosToken = true }));

    private static readonly Lazy<Tokenizers.DotNet.Tokenizer> OracleLazy = new(() =>
    {
        var path = Path.Combine(TestPaths.CacheDir, "tokenizer-gemma3", "tokenizer.bos-eos.json");
        if (!File.Exists(path))
        {
            var json = JsonNode.Parse(File.ReadAllText(TestPaths.Gemma3TokenizerJson))!;
            json["post_processor"] = JsonNode.Parse("""
                {"type":"TemplateProcessing",
                 "single":[{"SpecialToken":{"id":"<bos>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<eos>","type_id":0}}],
                 "pair":[{"SpecialToken":{"id":"<bos>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<eos>","type_id":0}},{"Sequence":{"id":"B","type_id":1}},{"SpecialToken":{"id":"<eos>","type_id":1}}],
                 "special_tokens":{"<bos>":{"id":"<bos>","ids":[2],"tokens":["<bos>"]},"<eos>":{"id":"<eos>","ids":[1],"tokens":["<eos>"]}}}
                """);
            var tmp = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
            File.WriteAllText(tmp, json.ToJsonString());
            File.Move(tmp, path, overwrite: true);
        }
        return new Tokenizers.DotNet.Tokenizer(vocabPath: path);
    });

    /// <summary>The oracle's ids for a text, with &lt;bos&gt;/&lt;eos&gt;.</summary>
    public static int[] OracleIds(string text) => Oracle.Encode(text).Select(x => (int)x).ToArray();
}
