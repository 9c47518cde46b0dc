// How late a bare timerfd + epoll_wait wakes on this machine (the floor under any event loop's timers), with the
// default timer slack and with 1 ns. Build: gcc -O2 -o /tmp/timerfd-late Benchmarks/Tools/timerfd-late.c; run: /tmp/timerfd-late; /tmp/timerfd-late 1
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <time.h>
#include <stdint.h>
static int64_t nowns(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec*1000000000LL+t.tv_nsec;}
int cmp(const void*a,const void*b){int64_t x=*(int64_t*)a,y=*(int64_t*)b;return x<y?-1:x>y;}
int main(int argc,char**argv){ if(argc>1) prctl(PR_SET_TIMERSLACK, 1UL,0,0,0);
 int tfd=timerfd_create(CLOCK_MONOTONIC,TFD_NONBLOCK|TFD_CLOEXEC), ep=epoll_create1(0);
 struct epoll_event ev={.events=EPOLLIN};epoll_ctl(ep,EPOLL_CTL_ADD,tfd,&ev);
 int64_t lat[300], lat2[300];
 for(int i=0;i<300;i++){ struct itimerspec ts={0}; int64_t want=nowns()+2000000; ts.it_value.tv_nsec=2000000; timerfd_settime(tfd,0,&ts,0);
   epoll_wait(ep,&ev,1,-1); lat[i]=nowns()-want; uint64_t v; read(tfd,&v,8);
   int64_t w2=nowns()+2000000; epoll_wait(ep,&ev,1,2); lat2[i]=nowns()-w2; }
 qsort(lat,300,8,cmp);qsort(lat2,300,8,cmp);
 printf("slack=%s timerfd late p50 %lld p90 %lld p99 %lld us; epoll_wait(2ms) late p50 %lld p90 %lld p99 %lld us\n",argc>1?"1ns":"default",lat[150]/1000,lat[270]/1000,lat[297]/1000,lat2[150]/1000,lat2[270]/1000,lat2[297]/1000);}
