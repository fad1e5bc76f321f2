using System.CommandLine;
using System.Reflection;

namespace EmbeddingGemma.Cli.Commands;

internal static class VersionCommand
{
    public static Command Create()
    {
        var command = new Command("version", "Print the tool's version.");
        command.SetAction(_ =>
        {
            var v = typeof(EmbeddingGemmaException).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            Console.WriteLine(v);
            return ExitCodes.Ok;
        });
        return command;
    }
}
