using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EmbeddingGemma.Model;

/// <summary>
/// A small, deterministic Gemma-style tokenizer.json for random models: BPE with byte_fallback, the
/// <c>Replace(" " -&gt; "▁")</c> normalizer, <c>&lt;pad&gt;</c>0 <c>&lt;eos&gt;</c>1 <c>&lt;bos&gt;</c>2 <c>&lt;unk&gt;</c>3
/// <c>&lt;mask&gt;</c>4, byte pieces <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c>, printable ASCII characters, then merges
/// learned by plain BPE training on a fixed built-in English text. Same output on every run and platform.
/// </summary>
public static class SyntheticTokenizer
{
    private const string Corpus =
        "the quick brown fox jumps over the lazy dog. which planet is known as the red planet? mars, known for its reddish " +
        "appearance, is often referred to as the red planet. venus is often called earth's twin because of its similar size " +
        "and proximity. jupiter, the largest planet in our solar system, has a prominent red spot. saturn, famous for its rings, " +
        "is sometimes mistaken for the red planet. task: search result | query: title: none | text: task: classification | " +
        "task: clustering | task: sentence similarity | task: code retrieval | task: question answering | task: fact checking | " +
        "task: summarization | a search engine returns the documents that are most similar to the query. embeddings map text " +
        "to vectors so that similar meanings are close together. the model reads the tokens, mixes them with attention and " +
        "pools the hidden states into one vector. this is a test of the tokenizer and the embedding model with some common " +
        "english words: and, for, with, that, this, from, they, have, were, been, there, their, what, when, where, while, " +
        "about, after, before, other, these, those, would, could, should, between, through, during, without, within.";

    private const int DefaultMerges = 400;
    private static readonly Lazy<string> DefaultJson = new(() => Build(DefaultMerges));

    /// <summary>The tokenizer.json text with <paramref name="merges"/> learned merges (at most as many as the corpus allows).</summary>
    public static string CreateJson(int merges = DefaultMerges) => merges == DefaultMerges ? DefaultJson.Value : Build(merges);

    private static string Build(int merges)
    {
        var specials = new[] { "<pad>", "<eos>", "<bos>", "<unk>", "<mask>" };
        var vocab = new List<string>(specials);
        for (var b = 0; b < 256; b++)
        {
            vocab.Add(string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>"));
        }
        vocab.Add("\u2581");
        for (var ch = 33; ch < 127; ch++)
        {
            vocab.Add(((char)ch).ToString());
        }
        // BPE training over words (each word after the first carries its leading "▁").
        var words = new Dictionary<string, int>(StringComparer.Ordinal);
        var first = true;
        foreach (var w in Corpus.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var key = (first ? "" : "\u2581") + w;
            first = false;
            words[key] = words.GetValueOrDefault(key) + 1;
            var cap = "\u2581" + char.ToUpperInvariant(w[0]) + w[1..];
            words[cap] = words.GetValueOrDefault(cap) + 1;
        }
        var seqs = words.Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value)).OrderBy(s => string.Concat(s.Symbols), StringComparer.Ordinal).ToList();
        var mergeList = new List<(string A, string B)>();
        var known = new HashSet<string>(vocab, StringComparer.Ordinal);
        while (mergeList.Count < merges)
        {
            var pairs = new Dictionary<(string, string), int>();
            foreach (var (symbols, count) in seqs)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    var p = (symbols[i], symbols[i + 1]);
                    pairs[p] = pairs.GetValueOrDefault(p) + count;
                }
            }
            if (pairs.Count == 0)
            {
                break;
            }
            var best = pairs.OrderByDescending(p => p.Value).ThenBy(p => p.Key.Item1 + "\u0001" + p.Key.Item2, StringComparer.Ordinal).First().Key;
            mergeList.Add(best);
            var merged = best.Item1 + best.Item2;
            if (known.Add(merged))
            {
                vocab.Add(merged);
            }
            foreach (var (symbols, _) in seqs)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == best.Item1 && symbols[i + 1] == best.Item2)
                    {
                        symbols[i] = merged;
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = new JsonArray(specials.Select((s, i) => (JsonNode)new JsonObject
            {
                ["id"] = i, ["content"] = s, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                ["normalized"] = false, ["special"] = s != "<mask>",
            }).ToArray()),
            ["normalizer"] = new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = "\u2581" },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["String"] = " " }, ["behavior"] = "MergedWithPrevious", ["invert"] = false },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special("<bos>"), Seq("A"), Special("<eos>")),
                ["pair"] = new JsonArray(Special("<bos>"), Seq("A"), Special("<eos>"), Seq("B", 1), Special("<eos>", 1)),
                ["special_tokens"] = new JsonObject
                {
                    ["<bos>"] = new JsonObject { ["id"] = "<bos>", ["ids"] = new JsonArray(2), ["tokens"] = new JsonArray("<bos>") },
                    ["<eos>"] = new JsonObject { ["id"] = "<eos>", ["ids"] = new JsonArray(1), ["tokens"] = new JsonArray("<eos>") },
                },
            },
            ["decoder"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["decoders"] = new JsonArray(
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = "\u2581" }, ["content"] = " " },
                    new JsonObject { ["type"] = "ByteFallback" },
                    new JsonObject { ["type"] = "Fuse" }),
            },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = "<unk>", ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true, ["byte_fallback"] = true, ["ignore_merges"] = false,
                ["vocab"] = new JsonObject(vocab.Select((v, i) => KeyValuePair.Create(v, (JsonNode?)JsonValue.Create(i)))),
                ["merges"] = new JsonArray(mergeList.Select(m => (JsonNode)new JsonArray(m.A, m.B)).ToArray()),
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = false });

        static JsonObject Special(string id, int type = 0) => new() { ["SpecialToken"] = new JsonObject { ["id"] = id, ["type_id"] = type } };
        static JsonObject Seq(string id, int type = 0) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = type } };
    }

    /// <summary>tokenizer_config.json for EmbeddingGemma (add_bos and add_eos true, right padding).</summary>
    public static string CreateConfigJson() => new JsonObject
    {
        ["add_bos_token"] = true,
        ["add_eos_token"] = true,
        ["bos_token"] = "<bos>",
        ["eos_token"] = "<eos>",
        ["pad_token"] = "<pad>",
        ["unk_token"] = "<unk>",
        ["mask_token"] = "<mask>",
        ["padding_side"] = "right",
        ["model_max_length"] = 2048,
        ["tokenizer_class"] = "GemmaTokenizer",
    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
}
