#pragma once
// Word pools for gen_racetiming: names, cities, race kinds. Plain constant
// data; a draw is Rng::Pick(pool), so repeating an entry weights it.
// Changing a pool changes the generated content for every seed.

namespace slipway::bench {

// clang-format off
inline constexpr const char* kFirstNames[] = {
    "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hugo", "Ines", "Jonas",
    "Katrin", "Lukas", "Marie", "Noah", "Olga", "Paul", "Quinn", "Rosa", "Simon", "Tara",
    "Ulrich", "Vera", "William", "Xenia", "Yusuf", "Zoe", "Liam", "Mia", "Oscar", "Sofia",
    "Elias", "Lea", "Mateo", "Nora", "Henrik", "Julia", "Karim", "Lina", "Tomas", "Amelie"};
inline constexpr const char* kLastNames[] = {
    "Schmidt", "Muller", "Garcia", "Rossi", "Dubois", "Novak", "Jensen", "Silva", "Kowalski",
    "Smith", "Brown", "Martin", "Bernard", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
    "Hoffmann", "Lopez", "Moreau", "Ricci", "Nielsen", "Costa", "Horvat", "Kovacs", "Janssen",
    "Peeters", "Andersen", "Olsen", "Virtanen", "Murphy", "Kelly", "Walsh", "Byrne", "Ryan"};

struct City {
  const char* name;
  const char* country;
  const char* tz;
};
inline constexpr City kCities[] = {
    {"Berlin", "DE", "Europe/Berlin"},       {"Munich", "DE", "Europe/Berlin"},
    {"Vienna", "AT", "Europe/Vienna"},       {"Zurich", "CH", "Europe/Zurich"},
    {"Paris", "FR", "Europe/Paris"},         {"Lyon", "FR", "Europe/Paris"},
    {"Madrid", "ES", "Europe/Madrid"},       {"Valencia", "ES", "Europe/Madrid"},
    {"Rome", "IT", "Europe/Rome"},           {"Amsterdam", "NL", "Europe/Amsterdam"},
    {"Dublin", "IE", "Europe/Dublin"},       {"London", "GB", "Europe/London"},
    {"Copenhagen", "DK", "Europe/Copenhagen"}, {"Oslo", "NO", "Europe/Oslo"},
    {"Helsinki", "FI", "Europe/Helsinki"},   {"Prague", "CZ", "Europe/Prague"}};

inline constexpr const char* kEventKinds[] = {
    "City Marathon", "Night Run", "Trail Festival", "River Run",
    "Spring Classic", "Winter Series", "Charity Run", "Relay Day"};
inline constexpr const char* kClubs[] = {
    "Harriers", "Road Runners", "Athletic Club", "Trail Team",
    "Triathlon Club", "Running Crew", "Track & Field"};
inline constexpr const char* kDomains[] = {"example.com", "example.org", "mail.example", "run.example"};
inline constexpr const char* kShirts[] = {"XS", "S", "M", "L", "XL"};
inline constexpr const char* kGenders[] = {"F", "M", "F", "M", "X"};

struct RaceKind {
  const char* name;
  int distance_m;
};
// Most entries are for the short races.
inline constexpr RaceKind kRaceKinds[] = {
    {"5K", 5000}, {"5K", 5000}, {"5K", 5000}, {"10K", 10000}, {"10K", 10000}, {"10K", 10000},
    {"Half Marathon", 21097}, {"Half Marathon", 21097}, {"Marathon", 42195},
    {"Kids 1K", 1000}, {"Relay 4x5K", 20000}};
// clang-format on

}  // namespace slipway::bench
