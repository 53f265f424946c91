// generate.hpp: bash and zsh completion and the man page, from the commands' CLI11 definitions.
// Every option is read back from CLI11 (names, whether it takes a value, its choices from an
// IsMember check, its group), so a new option shows up in all three without touching this file.
#include "cli/generate.hpp"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <vector>

namespace minify::cli {

namespace {

struct OptionInfo {
  std::vector<std::string> names;  // "-o", "--output"
  std::string description, group, type;
  std::vector<std::string> choices;  // from an IsMember check: "{file,package,module}"
  bool takes_value = false, repeatable = false, directory = false;
};

struct Positional {
  std::string name;
  bool many = false, required = false;
};

struct CommandInfo {
  std::string name, description, footer;
  std::vector<OptionInfo> options;
  std::vector<Positional> positionals;
  // The last positional takes the program and all its words (pack, trace, verify).
  bool program = false;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

CommandInfo describe(const CLI::App& app) {
  CommandInfo c;
  c.name = app.get_name();
  c.description = app.get_description();
  c.footer = app.get_footer();
  // Options of the app itself, then of its option groups (CLI11 keeps those in nameless subcommands).
  std::vector<std::pair<const CLI::Option*, std::string>> all;
  for (const CLI::Option* o : app.get_options()) all.emplace_back(o, o->get_group());
  for (const CLI::App* g : app.get_subcommands([](const CLI::App* s) { return s->get_name().empty(); }))
    for (const CLI::Option* o : g->get_options())
      if (o != g->get_help_ptr()) all.emplace_back(o, g->get_group());  // the parent's --help is listed
  for (const auto& [o, group] : all) {
    if (group.empty()) continue;  // hidden, as in --help
    if (o->get_positional()) {
      c.positionals.push_back({o->get_name(true), o->get_items_expected_max() > 1, o->get_required()});
      continue;
    }
    OptionInfo i;
    for (const auto& s : o->get_snames()) i.names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) i.names.push_back("--" + l);
    i.description = o->get_description();
    i.group = group;
    i.takes_value = o->get_items_expected_max() > 0;  // a flag expects none
    i.repeatable = i.takes_value && o->get_items_expected_max() > 1;
    // "TEXT:{file,package,module}", "TEXT:DIR": the type, then each check's description.
    auto parts = split(o->get_type_name(), ':');
    i.type = parts[0].empty() ? "VALUE" : parts[0];
    for (size_t k = 1; k < parts.size(); ++k) {
      const std::string& p = parts[k];
      if (p.size() > 2 && p.front() == '{' && p.back() == '}') i.choices = split(p.substr(1, p.size() - 2), ',');
      if (p == "DIR") i.directory = true;
    }
    c.options.push_back(std::move(i));
  }
  c.program = app.get_prefix_command() ||
              (app.get_positionals_at_end() && !c.positionals.empty() && c.positionals.back().many);
  return c;
}

std::vector<CommandInfo> commands_of(const CLI::App& app) {
  std::vector<CommandInfo> out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    if (!sub->get_name().empty() && !sub->get_group().empty()) out.push_back(describe(*sub));
  return out;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// ---- bash -----------------------------------------------------------------------------------

// One associative array entry per command: its options, those taking a value, and each value's
// choices; the function walks the words before the cursor to know what the current one is.
constexpr const char* kBashFunction = R"BASH(
_minify() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=
  (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}
  # --opt=value: bash splits it into --opt, =, value.
  if [[ $prev == = && COMP_CWORD -gt 1 ]]; then prev=${COMP_WORDS[COMP_CWORD-2]}; fi
  [[ $cur == = ]] && cur=
  local cmd= first=1
  if [[ COMP_CWORD -gt 1 && " $_minify_commands " == *" ${COMP_WORDS[1]} "* ]]; then
    cmd=${COMP_WORDS[1]}
    first=2
  fi
  local key=${cmd:-$_minify_default}
  # Once the program is named (or after --), the words are the program's: filenames.
  local i w
  for (( i = first; i < COMP_CWORD; i++ )); do
    w=${COMP_WORDS[i]}
    [[ $w == = ]] && continue
    if [[ $w == -- ]]; then return 0; fi
    if [[ " ${_minify_values[$key]} " == *" $w "* ]]; then
      (( i++ ))
      [[ ${COMP_WORDS[i]} == = ]] && (( i++ ))
      continue
    fi
    if [[ $w != -* && " $_minify_program_commands " == *" $key "* ]]; then return 0; fi
  done
  if [[ " ${_minify_values[$key]} " == *" $prev "* ]]; then
    local choices=${_minify_choices["$key $prev"]}
    [[ -n $choices ]] && COMPREPLY=($(compgen -W "$choices" -- "$cur"))
    return 0
  fi
  if [[ $cur == -* ]]; then
    local opts=${_minify_options[$key]}
    [[ -z $cmd ]] && opts+=" $_minify_top_options"
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
    return 0
  fi
  if [[ -z $cmd && COMP_CWORD -eq 1 ]]; then
    # A command, or the default command's program.
    COMPREPLY=($(compgen -W "$_minify_commands" -- "$cur") $(compgen -f -- "$cur"))
    compopt -o filenames 2>/dev/null
  fi
  return 0
}
complete -o default -o bashdefault -F _minify minify
)BASH";

}  // namespace

std::string bash_completion(const CLI::App& app) {
  auto commands = commands_of(app);
  std::ostringstream s;
  s << "# bash completion for minify(1), generated from its command-line definition by\n"
       "# `minify __generate bash`; do not edit.\n";
  std::vector<std::string> names, program;
  for (const auto& c : commands) {
    names.push_back(c.name);
    if (c.program) program.push_back(c.name);
  }
  s << "_minify_commands='" << join(names, " ") << "'\n";
  s << "_minify_program_commands='" << join(program, " ") << "'\n";
  s << "_minify_default=pack\n";
  std::vector<std::string> top;
  for (const CLI::Option* o : app.get_options())
    if (!o->get_group().empty() && o != app.get_help_ptr())  // the default command lists --help
      for (const auto& l : o->get_lnames()) top.push_back("--" + l);
  s << "_minify_top_options='" << join(top, " ") << "'\n";
  // -g: bash-completion sources this file inside a function.
  s << "declare -gA _minify_options=() _minify_values=() _minify_choices=()\n";
  for (const auto& c : commands) {
    std::vector<std::string> all, values;
    for (const auto& o : c.options) {
      all.insert(all.end(), o.names.begin(), o.names.end());
      if (o.takes_value) values.insert(values.end(), o.names.begin(), o.names.end());
      if (!o.choices.empty())
        for (const auto& n : o.names) s << "_minify_choices['" << c.name << " " << n << "']='" << join(o.choices, " ") << "'\n";
    }
    s << "_minify_options[" << c.name << "]='" << join(all, " ") << "'\n";
    s << "_minify_values[" << c.name << "]='" << join(values, " ") << "'\n";
  }
  s << kBashFunction;
  return s.str();
}

// ---- zsh ------------------------------------------------------------------------------------

namespace {

// Text inside an _arguments spec's single quotes and [brackets].
std::string zsh_text(const std::string& in) {
  std::string out;
  for (char c : in) {
    if (c == '\'') out += "'\\''";
    else if (c == '[' || c == ']' || c == '\\') out += std::string("\\") + c;
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

std::string zsh_option_spec(const OptionInfo& o) {
  std::string action = o.choices.empty() ? (o.directory ? "_files -/" : "_files") : "(" + join(o.choices, " ") + ")";
  std::string exclusive = o.repeatable || o.names.size() < 2 ? "" : "(" + join(o.names, " ") + ")";
  std::string out;
  for (const auto& n : o.names) {
    std::string name = n;
    if (o.takes_value) name += n.size() == 2 ? "+" : "=";
    out += "    '" + exclusive + (o.repeatable ? "*" : "") + name + "[" + zsh_text(o.description) + "]";
    if (o.takes_value) out += ":" + o.type + ":" + action;
    out += "' \\\n";
  }
  return out;
}

}  // namespace

std::string zsh_completion(const CLI::App& app) {
  auto commands = commands_of(app);
  std::ostringstream s;
  s << "#compdef minify\n"
       "# zsh completion for minify(1), generated from its command-line definition by\n"
       "# `minify __generate zsh`; do not edit.\n\n";
  for (const auto& c : commands) {
    s << "_minify_" << c.name << "() {\n  _arguments -s -S \\\n";
    for (const auto& o : c.options) s << zsh_option_spec(o);
    for (size_t i = 0; i < c.positionals.size(); ++i) {
      const Positional& p = c.positionals[i];
      if (c.program && i + 1 == c.positionals.size())
        s << "    '" << i + 1 << ":" << p.name << ":_command_names -e' \\\n    '*::arguments:_normal' \\\n";
      else if (p.many)
        s << "    '*:" << p.name << ":_files' \\\n";
      else
        s << "    '" << i + 1 << ":" << p.name << ":_files' \\\n";
    }
    s << "    && return 0\n  return 1\n}\n\n";
  }
  s << "_minify() {\n  local -a commands\n  commands=(\n";
  for (const auto& c : commands) s << "    '" << c.name << ":" << zsh_text(c.description) << "'\n";
  s << "  )\n"
       "  if (( CURRENT == 2 )) && [[ $words[2] != -* ]]; then\n"
       "    _describe -t commands 'minify command' commands\n"
       "    _files\n"
       "    return\n"
       "  fi\n"
       "  local cmd=$words[2]\n"
       "  if (( ${+functions[_minify_$cmd]} )); then\n"
       "    shift words\n"
       "    (( CURRENT-- ))\n"
       "    curcontext=\"${curcontext%:*:*}:minify-$cmd:\"\n"
       "    _minify_$cmd\n"
       "  else\n"
       "    _minify_pack\n"  // the default command
       "  fi\n"
       "}\n\n"
       "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
       "  _minify \"$@\"\n"
       "else\n"
       "  compdef _minify minify\n"
       "fi\n";
  return s.str();
}

// ---- man page -------------------------------------------------------------------------------

namespace {

// roff text: backslashes and hyphens escaped, no line starting with a control character.
std::string roff(const std::string& in) {
  std::string out;
  bool line_start = true;
  for (char c : in) {
    if (line_start && (c == '.' || c == '\'')) out += "\\&";
    if (c == '\\') out += "\\e";
    else if (c == '-') out += "\\-";
    else out += c;
    line_start = c == '\n';
  }
  return out;
}

std::string synopsis(const CommandInfo& c) {
  std::string s = "\\fBminify " + c.name + "\\fR [\\fIOPTIONS\\fR]";
  for (size_t i = 0; i < c.positionals.size(); ++i) {
    const Positional& p = c.positionals[i];
    if (c.program && i + 1 == c.positionals.size()) {
      std::string upper = p.name;
      std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char ch) { return std::toupper(ch); });
      std::string words = "[\\-\\-] \\fI" + upper + "\\fR [\\fIARGS\\fR...]";
      s += p.required ? " " + words : " [" + words + "]";
      continue;
    }
    std::string word = "\\fI" + p.name + "\\fR" + (p.many ? "..." : "");
    s += p.required ? " " + word : " [" + word + "]";
  }
  return s;
}

void man_options(std::ostringstream& s, const CommandInfo& c) {
  // Groups in the order --help shows them.
  std::vector<std::string> groups;
  for (const auto& o : c.options)
    if (std::find(groups.begin(), groups.end(), o.group) == groups.end()) groups.push_back(o.group);
  for (const auto& g : groups) {
    if (groups.size() > 1) s << ".PP\n\\fI" << roff(g) << "\\fR\n";
    for (const auto& o : c.options) {
      if (o.group != g) continue;
      s << ".TP\n";
      std::string names;
      for (const auto& n : o.names) names += (names.empty() ? "" : ", ") + ("\\fB" + roff(n) + "\\fR");
      s << names;
      if (o.takes_value) s << " \\fI" << roff(o.choices.empty() ? o.type : join(o.choices, "|")) << "\\fR";
      s << "\n" << roff(o.description) << (o.repeatable ? " (repeatable)" : "") << "\n";
    }
  }
}

}  // namespace

std::string man_page(const CLI::App& app, const std::string& version) {
  auto commands = commands_of(app);
  std::ostringstream s;
  // No date: the page is the same for every build of a version.
  s << ".\\\" Generated from minify's command-line definition by `minify __generate man`; do not edit.\n";
  s << ".TH MINIFY 1 \"\" \"minify " << roff(version) << "\" \"User Commands\"\n";
  s << ".SH NAME\nminify \\- " << roff(app.get_description().substr(app.get_description().find(": ") + 2)) << "\n";
  s << ".SH SYNOPSIS\n";
  s << ".nf\n\\fBminify\\fR [\\fIpack options\\fR] [\\-\\-] \\fIPROGRAM\\fR [\\fIARGS\\fR...]\n";
  for (const auto& c : commands) s << synopsis(c) << "\n";
  s << "\\fBminify \\-\\-version\\fR\n.fi\n";
  s << ".SH DESCRIPTION\n"
    << roff("minify ships a program with only what it needs at run time. It resolves the program's shared "
            "libraries as ld.so would, traces every file the program and its children touch, writes the union "
            "as a minimal root, a tar or an OCI image with the runner stage of a multi-stage Dockerfile, and "
            "runs the program once in that root to check it. Without a command name, minify runs pack.")
    << "\n";
  s << ".SH COMMANDS\n";
  for (const auto& c : commands) {
    s << ".SS " << roff(c.name) << "\n" << synopsis(c) << "\n.PP\n" << roff(c.description) << ".\n";
    man_options(s, c);
    if (!c.footer.empty()) s << ".PP\n.nf\n" << roff(c.footer) << "\n.fi\n";
  }
  s << ".SH EXIT STATUS\n";
  for (std::string_view line : kExitStatusLines) {
    std::string l(line);
    auto colon = l.find(": ");
    if (colon != std::string::npos && colon <= 2)
      s << ".TP\n.B " << l.substr(0, colon) << "\n" << roff(l.substr(colon + 2)) << "\n";
    else
      s << ".PP\n" << roff(l) << "\n";
  }
  s << ".SH SEE ALSO\n\\fBldd\\fR(1), \\fBld.so\\fR(8), \\fBstrace\\fR(1), \\fBbuildah\\fR(1), \\fBskopeo\\fR(1)\n";
  return s.str();
}

}  // namespace minify::cli
