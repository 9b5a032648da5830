"""tools/check_sizes finds long functions and files, and only those."""

import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

CHECK = Path("tools/check_sizes")


def run(text):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sample.cc"
        path.write_text(text)
        result = subprocess.run(
            [sys.executable, str(CHECK), str(path)], capture_output=True, text=True
        )
    return result.returncode, result.stderr


def function(signature, body_lines, indent=""):
    body = "".join(f"{indent}  step({i});\n" for i in range(body_lines))
    return f"{indent}{signature} {{\n{body}{indent}}}\n"


class CheckSizesTest(unittest.TestCase):
    def test_a_long_function_fails(self):
        code, err = run("namespace x {\n" + function("int Long(int a)", 70) + "}\n")
        self.assertEqual(code, 1)
        self.assertIn("a function of 72 lines", err)
        self.assertIn("int Long(int a)", err)

    def test_a_function_at_the_limit_passes(self):
        code, err = run(function("void Short()", 58))
        self.assertEqual(code, 0, err)

    def test_an_inline_member_counts_with_its_lambdas(self):
        lambda_ = "    auto f = [] {\n" + "      step();\n" * 30 + "    };\n"
        text = (
            "class C {\n public:\n  void Member() {\n"
            + lambda_
            + "    step();\n" * 30
            + "  }\n};\n"
        )
        code, err = run(text)
        self.assertEqual(code, 1)
        self.assertIn("void Member()", err)
        self.assertNotIn("public:", err)

    def test_braces_in_strings_comments_and_one_line_pairs_are_not_scopes(self):
        text = (
            "// {{{ not a scope\n"
            'const char* kBraces = "{{{";\n'
            "struct S { int a{1}; };\n"
            + function("void Fine()", 40)
        )
        code, err = run(text)
        self.assertEqual(code, 0, err)

    def test_a_long_class_or_namespace_is_not_a_function(self):
        members = "".join(f"  int m{i};\n" for i in range(80))
        code, err = run("namespace x {\nclass Big {\n" + members + "};\n}\n")
        self.assertEqual(code, 0, err)

    def test_a_long_file_fails(self):
        text = "".join(function(f"void F{i}()", 3) for i in range(90))
        code, err = run(text)
        self.assertEqual(code, 1)
        self.assertIn("450 lines (at most 400)", err)


if __name__ == "__main__":
    unittest.main()
