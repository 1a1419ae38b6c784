// Lesson mode at run time (lesson.hpp): slides entered and left, panels focused and hidden, actions
// run through a ScriptRunner (the same runner as --script, so a lesson does exactly what a script
// would), the file watched for changes, questions answered from the app's own numbers or the quiz.
// Drawing is lesson_panel.cpp's job.
#include "lesson.hpp"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <system_error>

#include "app_state.hpp"
#include "lesson_logic.hpp"
#include "main_window.hpp"
#include "model/model_spec.hpp"
#include "script.hpp"
#include "snapshot.hpp"

namespace kvlab::gui {

namespace {
int panel_index(const std::string& name) {
  const auto& names = panel_names();
  for (int i = 0; i < static_cast<int>(names.size()) && i < static_cast<int>(Panel::Count); ++i)
    if (name == names[static_cast<std::size_t>(i)]) return i;
  return -1;
}

std::filesystem::path resolve(const std::string& path_or_name) {
  const std::filesystem::path p(path_or_name);
  if (!p.has_parent_path() && p.extension().empty()) {
    const std::filesystem::path shipped = lessons_dir() / (path_or_name + ".txt");
    std::error_code ec;
    if (std::filesystem::exists(shipped, ec)) return shipped;
  }
  return p;
}

// Reads and parses; throws std::runtime_error with a message a teacher understands.
std::shared_ptr<const Lesson> read_lesson(const std::filesystem::path& path) {
  std::ifstream f(path);
  if (!f) throw std::runtime_error("cannot read the lesson '" + path.string() + "' (no such file, or not readable)");
  std::stringstream ss;
  ss << f.rdbuf();
  return std::make_shared<const Lesson>(parse_lesson(ss.str(), path.filename().string()));
}

// The panels and toolbar controls of the current slide: the panels from before the lesson, then the
// slide's focus (only those) and hide.
void apply_slide_view(AppState& app) {
  LessonState& l = app.lesson;
  const Slide& s = l.lesson->slides.at(static_cast<std::size_t>(l.slide));
  for (std::size_t i = 0; i < app.panel_open.size() && i < l.panels_before.size(); ++i) app.panel_open[i] = l.panels_before[i];
  if (s.focus) {
    app.panel_open.fill(false);
    for (const std::string& n : s.show)
      if (const int i = panel_index(n); i >= 0) app.panel_open[static_cast<std::size_t>(i)] = true;
  }
  l.hidden_controls.clear();
  for (const std::string& n : s.hide) {
    if (const int i = panel_index(n); i >= 0) app.panel_open[static_cast<std::size_t>(i)] = false;
    else l.hidden_controls.push_back(n);
  }
}

void enter_slide(AppState& app, int index, bool with_setup) {
  LessonState& l = app.lesson;
  l.slide = std::clamp(index, 0, static_cast<int>(l.lesson->slides.size()) - 1);
  if (l.visited.size() != l.lesson->slides.size()) l.visited.assign(l.lesson->slides.size(), false);
  l.visited[static_cast<std::size_t>(l.slide)] = true;
  l.guess.clear();
  l.revealed = false;
  l.recorded = false;
  l.quiz_request = 0;
  l.skip_armed = false;
  apply_slide_view(app);
  std::vector<ScriptAction> actions = with_setup ? l.lesson->setup : std::vector<ScriptAction>{};
  const auto& slide_actions = l.lesson->slides[static_cast<std::size_t>(l.slide)].actions;
  actions.insert(actions.end(), slide_actions.begin(), slide_actions.end());
  l.runner = actions.empty() ? nullptr : std::make_shared<ScriptRunner>(std::move(actions), "");
}

const Question* current_question(const LessonState& l) {
  if (!l.lesson || l.slide < 0 || l.slide >= static_cast<int>(l.lesson->slides.size())) return nullptr;
  const Slide& s = l.lesson->slides[static_cast<std::size_t>(l.slide)];
  return s.questions.empty() ? nullptr : &s.questions[0];
}

void record_answer(LessonState& l, const LessonAnswer& a) {
  RevealedAnswer r;
  r.slide = l.slide + 1;
  r.question = a.question;
  r.guess = l.guess;
  r.answer = a.value;
  r.unit = a.unit;
  double g = 0;
  std::istringstream in(l.guess);
  if (in >> g) r.verdict = guess_verdict(g, a.value);
  std::erase_if(l.answers, [&](const RevealedAnswer& x) { return x.slide == r.slide; });
  l.answers.push_back(std::move(r));
  l.recorded = true;
}
}  // namespace

std::filesystem::path lessons_dir() { return assets_dir() / "lessons"; }

std::vector<std::filesystem::path> shipped_lessons() {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(lessons_dir(), ec))
    if (e.path().extension() == ".txt") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

std::string lesson_file_error(const std::string& path_or_name) {
  try {
    read_lesson(resolve(path_or_name));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

std::string open_lesson(AppState& app, const std::string& path_or_name, double now) {
  LessonState& l = app.lesson;
  const std::filesystem::path path = resolve(path_or_name);
  std::shared_ptr<const Lesson> lesson;
  try {
    lesson = read_lesson(path);
  } catch (const std::exception& e) {
    l.error = e.what();
    return l.error;
  }
  if (!l.active)  // the panels as the teacher had them: each slide starts from these, Leave restores them
    l.panels_before.assign(app.panel_open.begin(), app.panel_open.end());
  std::error_code ec;
  l.mtime = std::filesystem::last_write_time(path, ec);
  l.path = path.string();
  l.lesson = std::move(lesson);
  l.error.clear();
  l.active = true;
  l.answers.clear();
  l.visited.assign(l.lesson->slides.size(), false);
  l.next_check = now + 1.0;
  enter_slide(app, 0, true);
  return "";
}

void lesson_next(AppState& app, const Snapshot& snap) {
  LessonState& l = app.lesson;
  if (!l.lesson || !l.active) return;
  const Slide& s = l.lesson->slides[static_cast<std::size_t>(l.slide)];
  if (!s.questions.empty() && !l.revealed) {  // a clicker alone runs predict-then-reveal: click = reveal, click = next
    lesson_reveal(app, snap);
    return;
  }
  if (!s.expects.empty() && !l.skip_armed &&
      !expectation_met(s.expects[0], snap, app.layout == Layout::Classroom, l.revealed)) {
    l.skip_armed = true;  // the bar shows the hint; a second Next goes on anyway (the teacher decides)
    return;
  }
  if (l.slide + 1 < static_cast<int>(l.lesson->slides.size())) enter_slide(app, l.slide + 1, false);
}

void lesson_back(AppState& app) {
  LessonState& l = app.lesson;
  if (l.lesson && l.active && l.slide > 0) enter_slide(app, l.slide - 1, false);
}

void lesson_go(AppState& app, int slide) {
  if (app.lesson.lesson && app.lesson.active) enter_slide(app, slide, false);
}

void leave_lesson(AppState& app) {
  LessonState& l = app.lesson;
  if (!l.active) return;
  l.active = false;
  l.runner.reset();
  l.hidden_controls.clear();
  for (std::size_t i = 0; i < app.panel_open.size() && i < l.panels_before.size(); ++i) app.panel_open[i] = l.panels_before[i];
}

void resume_lesson(AppState& app) {
  LessonState& l = app.lesson;
  if (!l.lesson || l.active) return;
  l.panels_before.assign(app.panel_open.begin(), app.panel_open.end());
  l.active = true;
  apply_slide_view(app);  // not the slide's actions: the text on screen stays as the teacher left it
}

void lesson_tick(AppState& app, const Snapshot& snap, bool worker_idle, double now) {
  LessonState& l = app.lesson;
  if (!l.lesson || !l.active) return;
  if (l.runner) {
    std::string unused_screenshot;
    if (!l.runner->advance(app, worker_idle, now, unused_screenshot)) l.runner.reset();
  }
  const Question* q = current_question(l);
  if (q && !q->quiz_id.empty() && !l.runner && l.quiz_request == 0) {  // after the slide's actions (its model)
    l.quiz_request = ++l.requests;
    app.worker.post(cmd::AskQuiz{q->quiz_id, l.quiz_request});
  }
  if (l.revealed && !l.recorded) {
    const LessonAnswer a = current_answer(app, snap);
    if (a.ready) record_answer(l, a);
  }
}

double lesson_wake_at(const AppState& app, bool worker_idle, double now) {
  const LessonState& l = app.lesson;
  if (l.active && l.runner) return l.runner->next_frame_at(worker_idle, now);
  return std::numeric_limits<double>::infinity();
}

bool lesson_running(const AppState& app) { return app.lesson.active && app.lesson.runner != nullptr; }

double lesson_file_check_at(const AppState& app) {
  return app.lesson.path.empty() ? std::numeric_limits<double>::infinity() : app.lesson.next_check;
}

bool lesson_check_file(AppState& app, double now) {
  LessonState& l = app.lesson;
  if (l.path.empty() || now < l.next_check) return false;
  l.next_check = now + 1.0;
  std::error_code ec;
  const auto t = std::filesystem::last_write_time(l.path, ec);
  if (ec || t == l.mtime) return false;
  l.mtime = t;
  try {
    l.lesson = read_lesson(l.path);  // the slide stays; its actions do not run again
    l.error.clear();
    l.slide = std::min(l.slide, static_cast<int>(l.lesson->slides.size()) - 1);
    l.visited.resize(l.lesson->slides.size(), false);
    if (l.active) apply_slide_view(app);
  } catch (const std::exception& e) {
    l.error = std::string(e.what()) + " (the lesson as it was before stays on screen)";
  }
  return true;
}

void lesson_reveal(AppState& app, const Snapshot& snap) {
  LessonState& l = app.lesson;
  if (!current_question(l)) return;
  l.revealed = true;
  const LessonAnswer a = current_answer(app, snap);
  if (a.ready) record_answer(l, a);
}

LessonAnswer current_answer(const AppState& app, const Snapshot& snap) {
  LessonAnswer a;
  const LessonState& l = app.lesson;
  const Question* q = current_question(l);
  if (!q) return a;
  a.question = q->text;
  if (q->quiz_id.empty()) {
    a.unit = q->unit;
    a.method = "computed by the app: " + q->expression.text;
    if (q->expression.nodes.size() == 1 && q->expression.nodes[0].op == 'v')  // one number of the app: say which
      for (const LessonVariable& v : lesson_variables_help())
        if (q->expression.nodes[0].name == v.name) a.method = std::string("measured by the app: ") + v.meaning;
    try {
      a.value = evaluate(q->expression, [&](const std::string& n, double& v) { return lesson_variable(snap, n, v); });
      a.ready = true;
    } catch (const std::exception& e) {
      a.pending = snap.busy || snap.sweep_running;  // e.g. the sweep the slide started is still running
      if (!a.pending) a.error = e.what();
    }
    return a;
  }
  teach::QuizOptions o;
  if (a.question.empty()) a.question = q->quiz_id + ": " + teach::quiz_question(q->quiz_id, o);
  const auto it = std::find_if(snap.quiz.begin(), snap.quiz.end(),
                               [&](const QuizResult& r) { return r.id == q->quiz_id && r.request == l.quiz_request; });
  if (l.quiz_request == 0 || it == snap.quiz.end()) {
    a.pending = true;
    return a;
  }
  if (!it->error.empty()) {
    a.error = it->error;
    return a;
  }
  if (!quiz_value(it->answer, q->figure, a.value, a.unit)) {
    a.error = q->quiz_id + " has no figure '" + q->figure + "'";
    return a;
  }
  a.method = it->answer.method;
  a.course = it->answer.course_answer;
  a.note = it->answer.note;
  a.ready = true;
  return a;
}

nlohmann::json lesson_report(const AppState& app) {
  const LessonState& l = app.lesson;
  nlohmann::json out = {{"file", l.path}, {"active", l.active}, {"error", l.error}};
  if (!l.lesson) return out;
  int questions = 0;
  for (const Slide& s : l.lesson->slides) questions += static_cast<int>(s.questions.size());
  out["title"] = l.lesson->title;
  out["slides"] = l.lesson->slides.size();
  out["slide"] = l.slide + 1;
  out["visited"] = std::count(l.visited.begin(), l.visited.end(), true);
  out["questions"] = questions;
  out["answered"] = l.answers.size();
  out["answers"] = nlohmann::json::array();
  for (const RevealedAnswer& r : l.answers)
    out["answers"].push_back({{"slide", r.slide}, {"question", r.question}, {"guess", r.guess}, {"answer", r.answer},
                              {"unit", r.unit}, {"verdict", r.verdict}});
  out["hidden_controls"] = l.hidden_controls;
  return out;
}

bool control_hidden(const AppState& app, const char* name) {
  const auto& h = app.lesson.hidden_controls;
  return app.lesson.active && std::find(h.begin(), h.end(), name) != h.end();
}

}  // namespace kvlab::gui
