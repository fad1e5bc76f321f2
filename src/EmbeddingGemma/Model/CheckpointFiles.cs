using System.Text.Json;
using System.Text.Json.Nodes;
using EmbeddingGemma.Formats;

namespace EmbeddingGemma.Model;

/// <summary>
/// The sentence-transformers side files and the GGUF vocabulary that <see cref="ModelCheckpoint"/> and
/// <see cref="V2.ModelCheckpoint2"/> write the same way (1_Pooling, config_sentence_transformers.json, tokenizer files),
/// and the tokenizer a random model starts from.
/// </summary>
internal static class CheckpointFiles
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Writes <paramref name="node"/> indented, creating the folder.</summary>
    public static void WriteJson(string path, JsonNode node)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, node.ToJsonString(Indented));
    }

    /// <summary>A modules.json entry.</summary>
    public static JsonObject Module(int idx, string path, string type) =>
        new() { ["idx"] = idx, ["name"] = idx.ToString(System.Globalization.CultureInfo.InvariantCulture), ["path"] = path, ["type"] = type };

    /// <summary>1_Pooling/config.json: mean pooling over <paramref name="dimension"/> values, prompt included (ST defaults); EmbeddingGemma 2's ST 6 also writes embedding_dimension.</summary>
    public static void WriteMeanPooling(string folder, int dimension, bool writeEmbeddingDimension)
    {
        var node = new JsonObject();
        if (writeEmbeddingDimension)
        {
            node["embedding_dimension"] = dimension;
        }
        node["word_embedding_dimension"] = dimension;
        node["pooling_mode_cls_token"] = false;
        node["pooling_mode_mean_tokens"] = true;
        node["pooling_mode_max_tokens"] = false;
        node["pooling_mode_mean_sqrt_len_tokens"] = false;
        node["pooling_mode_weightedmean_tokens"] = false;
        node["pooling_mode_lasttoken"] = false;
        node["include_prompt"] = true;
        WriteJson(Path.Combine(folder, "1_Pooling", "config.json"), node);
    }

    /// <summary>config_sentence_transformers.json with the prompts, the library versions named and cosine similarity.</summary>
    public static void WriteSentenceTransformersConfig(string folder, IReadOnlyDictionary<string, string> prompts, string sentenceTransformers, string transformers, string pytorch)
    {
        var p = new JsonObject();
        foreach (var (k, v) in prompts)
        {
            p[k] = v;
        }
        WriteJson(Path.Combine(folder, "config_sentence_transformers.json"), new JsonObject
        {
            ["model_type"] = "SentenceTransformer",
            ["__version__"] = new JsonObject { ["sentence_transformers"] = sentenceTransformers, ["transformers"] = transformers, ["pytorch"] = pytorch },
            ["prompts"] = p,
            ["default_prompt_name"] = null,
            ["similarity_fn_name"] = "cosine",
        });
    }

    /// <summary>tokenizer.json and tokenizer_config.json (the synthetic default config when none is given); nothing without a tokenizer.</summary>
    public static void WriteTokenizer(string folder, string? tokenizerJson, string? tokenizerConfigJson)
    {
        if (tokenizerJson is not null)
        {
            File.WriteAllText(Path.Combine(folder, "tokenizer.json"), tokenizerJson);
            File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), tokenizerConfigJson ?? SyntheticTokenizer.CreateConfigJson());
        }
    }

    /// <summary>
    /// Adds the tokenizer.ggml.* keys for <paramref name="tokenizerJson"/> as tokenizer model <paramref name="model"/>;
    /// added tokens beyond the embedding table (e.g. Gemma 3's <c>&lt;image_soft_token&gt;</c> 262144) are not written.
    /// </summary>
    public static void AddVocabulary(GgufWriter writer, string? tokenizerJson, int vocabSize, string model)
    {
        if (tokenizerJson is null)
        {
            return;
        }
        var vocab = TokenizerVocabulary.FromTokenizerJson(tokenizerJson) with { Model = model };
        if (vocab.Tokens.Count > vocabSize)
        {
            vocab = vocab with
            {
                Tokens = vocab.Tokens.Take(vocabSize).ToArray(),
                Scores = vocab.Scores.Take(vocabSize).ToArray(),
                TokenTypes = vocab.TokenTypes.Take(vocabSize).ToArray(),
            };
        }
        vocab.WriteTo(writer);
    }

    /// <summary>The tokenizer.json a random model uses: the file at <paramref name="tokenizerJsonPath"/>, else the synthetic one; and its piece count.</summary>
    public static (string Json, int VocabCount) RandomModelTokenizer(string? tokenizerJsonPath)
    {
        string json;
        if (tokenizerJsonPath is not null)
        {
            if (!File.Exists(tokenizerJsonPath))
            {
                throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Tokenizer file not found: {tokenizerJsonPath}") { FilePath = tokenizerJsonPath };
            }
            json = File.ReadAllText(tokenizerJsonPath);
        }
        else
        {
            json = SyntheticTokenizer.CreateJson();
        }
        return (json, TokenizerVocabulary.FromTokenizerJson(json).Tokens.Count);
    }
}
