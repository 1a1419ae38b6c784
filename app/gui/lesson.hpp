// Lesson mode at run time: opening a lesson file (and reopening it when the teacher saves a change),
// moving between slides (Page Down / Page Up, as a presentation clicker sends), running each slide's
// actions, showing only the panels a slide names, and the predict-then-reveal question. The lesson bar
// that shows it is lesson_panel.cpp; parsing is lesson_parse.cpp. Held in AppState (LessonState).
#pragma once
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lesson_parse.hpp"

namespace kvlab::gui {

struct AppState;
struct Snapshot;
class ScriptRunner;

// One revealed question, for the report and the end-of-lesson summary.
struct RevealedAnswer {
  int slide = 0;           // 1-based
  std::string question;
  std::string guess;       // as typed ("" = skipped)
  double answer = 0;
  std::string unit, verdict;
};

struct LessonState {
  std::string path;                      // the lesson file ("" = none loaded)
  std::shared_ptr<const Lesson> lesson;  // the last version that parsed
  bool active = false;                   // the lesson bar shows (Esc/Leave hide it; F5 brings it back)
  int slide = 0;                         // index into lesson->slides
  std::string error;                     // why the file (or its new version) was not used; the old one stays
  std::filesystem::file_time_type mtime{};
  double next_check = 0;                 // when to look at the file's time again (seconds, glfwGetTime)
  std::shared_ptr<ScriptRunner> runner;  // the setup's or the current slide's actions, while they run
  std::vector<bool> panels_before;       // panels open before the lesson (AppState::panel_open): each slide starts from these
  std::vector<std::string> hidden_controls;
  // the question of the current slide
  std::string guess;                     // what the class typed
  bool revealed = false;
  int quiz_request = 0;                  // the AskQuiz this slide posted (0 = not yet)
  int requests = 0;                      // AskQuiz commands posted so far (numbers them)
  bool recorded = false;                 // the revealed answer is in `answers`
  bool skip_armed = false;               // Next pressed once while `expect` was unmet: the next press goes on
  std::vector<RevealedAnswer> answers;   // every question revealed (latest per slide)
  std::vector<bool> visited;             // slides opened at least once
};

// The folder of the shipped lessons (next to the default model: assets/lessons).
std::filesystem::path lessons_dir();
// The shipped lessons, sorted by file name.
std::vector<std::filesystem::path> shipped_lessons();
// Why FILE (or NAME) cannot be used as a lesson, or "" (for --lesson before the window opens).
std::string lesson_file_error(const std::string& path_or_name);
// Opens FILE, or NAME for assets/lessons/NAME.txt; on success runs its setup and shows the first slide.
// Returns "" or the error (also kept in app.lesson.error; a lesson already open stays open).
std::string open_lesson(AppState& app, const std::string& path_or_name, double now);
// Page Down: reveals the slide's answer if it has an unrevealed question, else the next slide (see skip_armed).
void lesson_next(AppState& app, const Snapshot& snap);
void lesson_back(AppState& app);                         // Page Up
void lesson_go(AppState& app, int slide);                // a click on the progress strip
void leave_lesson(AppState& app);                        // hide the bar, every panel as before the lesson
void resume_lesson(AppState& app);                       // F5: the bar back, at the slide it was on
// Once a drawn frame: runs the slide's actions, asks the engine the slide's quiz question after them,
// records a revealed answer once it is known.
void lesson_tick(AppState& app, const Snapshot& snap, bool worker_idle, double now);
// When the lesson next needs a frame (as ScriptRunner::next_frame_at); infinity when it needs none.
double lesson_wake_at(const AppState& app, bool worker_idle, double now);
// The file is looked at once a second (without drawing): true when a new version was read (or
// refused: app.lesson.error says why). `lesson_file_check_at` says when the next look is due.
bool lesson_check_file(AppState& app, double now);
double lesson_file_check_at(const AppState& app);
// True while a slide's actions are still running (a test script waits for them).
bool lesson_running(const AppState& app);
// Reveal the current slide's answer (with the typed guess, or none).
void lesson_reveal(AppState& app, const Snapshot& snap);
// The current slide's question answered: value, unit and method, or why not yet (`pending`: the
// engine is still measuring). Pure: reads the snapshot.
struct LessonAnswer {
  bool ready = false, pending = false;
  double value = 0;
  std::string unit, method, course, note, error, question;
};
LessonAnswer current_answer(const AppState& app, const Snapshot& snap);
// The lesson's state for `kvlab --report` (docs/gui-scripts.md): slides, visited, questions answered.
nlohmann::json lesson_report(const AppState& app);
// Whether a toolbar control ("cache", "play", ...) is hidden by the current slide.
bool control_hidden(const AppState& app, const char* name);

}  // namespace kvlab::gui
