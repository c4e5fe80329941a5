// Tests of the srepr evaluator behind `ingot convert --input-shape`
// (src/frontend/sym_expr.cc), on expressions in the form torch.export writes them
// (sympy srepr of symbolic sizes), each against the value worked out by hand.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "frontend/sym_expr.h"

namespace ingot::frontend {
namespace {

const std::string kS = "Symbol('s77', positive=True, integer=True)";
const std::string kT = "Symbol('s12', positive=True, integer=True)";

int64_t eval(const std::string& e) { return evaluate_sym_expr(e, {{"s77", 7}, {"s12", 5}}); }

TEST(SymExpr, ArithmeticOfSymbols) {
  EXPECT_EQ(eval(kS), 7);
  EXPECT_EQ(eval("Integer(196)"), 196);
  EXPECT_EQ(eval("Mul(Integer(196), " + kS + ")"), 1372);
  EXPECT_EQ(eval("Add(" + kS + ", Integer(1))"), 8);
  EXPECT_EQ(eval("Add(Mul(Integer(2), " + kS + "), Mul(Integer(-1), " + kT + "))"), 9);
  EXPECT_EQ(eval("Mul(" + kS + ", " + kT + ")"), 35);
  EXPECT_EQ(eval("Pow(" + kS + ", Integer(2))"), 49);
  EXPECT_EQ(eval("Add(" + kS + ", NegativeOne())"), 6);
}

TEST(SymExpr, IntegerDivisionAndRounding) {
  EXPECT_EQ(eval("FloorDiv(" + kS + ", Integer(2))"), 3);
  EXPECT_EQ(eval("FloorDiv(Mul(Integer(-1), " + kS + "), Integer(2))"), -4);  // floor, as Python's //
  EXPECT_EQ(eval("CeilToInt(IntTrueDiv(" + kS + ", Integer(2)))"), 4);
  EXPECT_EQ(eval("Mod(" + kS + ", Integer(4))"), 3);
  EXPECT_EQ(eval("PythonMod(Mul(Integer(-1), " + kS + "), Integer(4))"), 1);  // Python's sign rule
  EXPECT_EQ(eval("Max(Integer(1), " + kS + ", " + kT + ")"), 7);
  EXPECT_EQ(eval("Min(Integer(1), " + kS + ")"), 1);
  EXPECT_EQ(eval("Mul(Rational(1, 2), Mul(Integer(2), " + kS + "))"), 7);
  EXPECT_EQ(eval("TruncToInt(Float('3.75', precision=53))"), 3);
}

TEST(SymExpr, RefusesWhatItCannotEvaluate) {
  auto refused = [](const std::string& e, const std::string& why) {
    try {
      eval(e);
      ADD_FAILURE() << e << " evaluated";
    } catch (const std::runtime_error& err) {
      EXPECT_NE(std::string(err.what()).find(why), std::string::npos) << err.what();
      EXPECT_NE(std::string(err.what()).find(e), std::string::npos) << "the message names the expression";
    }
  };
  refused("Symbol('u0', integer=True)", "the symbol 'u0' has no value");
  refused("Sin(" + kS + ")", "unknown function 'Sin'");
  refused("FloorDiv(" + kS + ", Integer(0))", "division by zero");
  refused("IntTrueDiv(" + kS + ", Integer(2))", "not an integer");
  refused("Add(" + kS + ", Integer(1)", "expected ')'");
  refused("Add(" + kS + ") trailing", "unexpected text");
}

}  // namespace
}  // namespace ingot::frontend
