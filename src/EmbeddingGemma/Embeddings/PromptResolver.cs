using EmbeddingGemma.Model;

namespace EmbeddingGemma.Embeddings;

/// <summary>Chooses the prompt string of an <see cref="EncodeOptions"/> (sentence-transformers rules plus the model-card tasks).</summary>
public sealed class PromptResolver
{
    public PromptResolver(IReadOnlyDictionary<string, string>? prompts = null)
    {
        Prompts = prompts ?? ModelPrompts.SentenceTransformersPrompts;
    }

    /// <summary>The named prompts of the model (config_sentence_transformers.json).</summary>
    public IReadOnlyDictionary<string, string> Prompts { get; }

    /// <summary>Every accepted prompt name: the model's names, then the task names.</summary>
    public IEnumerable<string> ValidNames => Prompts.Keys.Concat(ModelPrompts.TaskNames).Distinct();

    /// <summary>The prompt (null: none).</summary>
    public string? Resolve(EncodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Prompt is not null)
        {
            return options.Prompt;
        }
        if (options.PromptName is { } name)
        {
            if (Prompts.TryGetValue(name, out var p))
            {
                return options.Title is not null && IsDocumentPrompt(p) ? ModelPrompts.ForTask(ModelPrompts.RetrievalDocumentTask, options.Title) : p;
            }
            if (ModelPrompts.TaskNames.Contains(name))
            {
                return ModelPrompts.ForTask(name, options.Title);
            }
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Unknown prompt name '{name}'. Valid names: {string.Join(", ", ValidNames)}.");
        }
        if (options.Task is { } task)
        {
            if (!ModelPrompts.TaskNames.Contains(task) && Prompts.TryGetValue(task, out var p))
            {
                return p;
            }
            return ModelPrompts.ForTask(task, options.Title);
        }
        return options.Title is not null ? ModelPrompts.ForTask(ModelPrompts.RetrievalDocumentTask, options.Title) : null;
    }

    private static bool IsDocumentPrompt(string p) => p.StartsWith("title: ", StringComparison.Ordinal);
}
